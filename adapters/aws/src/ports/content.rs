//! File content in S3, by key.

use super::AwsPorts;
use crate::error::{classify, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use tally_core::ports::{ContentStore, PortError};

impl ContentStore for AwsPorts {
    async fn get_content(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        let bucket = self.bucket()?;
        let out = match self
            .clients
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(SdkError::ServiceError(e)) if e.err().is_no_such_key() => return Ok(None),
            Err(e) => return Err(classify(&format!("GetObject s3://{bucket}/{key}"), e)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| PortError::Transient(format!("reading s3://{bucket}/{key}: {e}")))?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    async fn put_content(&self, key: &str, bytes: &[u8]) -> Result<(), PortError> {
        let bucket = self.bucket()?;
        self.clients
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&format!("PutObject s3://{bucket}/{key}"), e))
    }

    async fn delete_content(&self, key: &str) -> Result<bool, PortError> {
        let bucket = self.bucket()?;
        // DeleteObject answers the same whether or not the key existed:
        // ask first, so the executor can report what it removed.
        let existed = match self
            .clients
            .s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => true,
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => false,
            Err(e) => return Err(classify(&format!("HeadObject s3://{bucket}/{key}"), e)),
        };
        if existed {
            self.clients
                .s3
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| classify(&format!("DeleteObject s3://{bucket}/{key}"), e))?;
        }
        Ok(existed)
    }
}
