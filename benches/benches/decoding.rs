//! Events per second decoded from wire text into typed events, for each
//! wire form: the PutEvents entry, the delivered event, and the delivered
//! event inside an SQS body.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tally_core::event::samples;
use tally_core::wire::{sqs, DeliveredEvent, Delivery, PutEventsEntry};

fn bench(c: &mut Criterion) {
    let events = samples::all();
    let entries: Vec<String> = events
        .iter()
        .map(|e| PutEventsEntry::encode(e, "bus").expect("fits").to_json())
        .collect();
    let delivered: Vec<String> = events
        .iter()
        .map(|e| DeliveredEvent::wrap(e, "id-1", &Delivery::default()).to_json())
        .collect();
    let mut g = c.benchmark_group("decoding");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("putevents-entry", |b| {
        b.iter(|| {
            for t in &entries {
                black_box(
                    PutEventsEntry::from_json(t)
                        .and_then(|e| e.decode())
                        .expect("decodes"),
                );
            }
        })
    });
    g.bench_function("delivered", |b| {
        b.iter(|| {
            for t in &delivered {
                black_box(
                    DeliveredEvent::from_json(t)
                        .and_then(|d| d.decode())
                        .expect("decodes"),
                );
            }
        })
    });
    g.bench_function("sqs-body", |b| {
        b.iter(|| {
            for t in &delivered {
                black_box(sqs::decode_body(t).expect("decodes"));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
