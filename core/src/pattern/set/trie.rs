//! The trie of path segments: built as patterns are added, stepped by the
//! scanner key by key.

use rustc_hash::FxHashMap;

use super::super::bytes::same;

/// A node switches from a list of children to a hash map past this many.
const LINEAR_CHILDREN: usize = 8;

#[derive(Debug, Clone)]
pub(super) struct Child {
    /// First eight bytes of the key, zero padded, with its length mixed in.
    head: u64,
    key: Box<[u8]>,
    node: u32,
}

#[inline(always)]
fn key_head(k: &[u8]) -> u64 {
    let mut h = 0u64;
    for (j, &c) in k.iter().take(8).enumerate() {
        h |= (c as u64) << (8 * j);
    }
    h ^ (k.len() as u64).rotate_right(8)
}

/// `key_head` of `b[start..start + len]`, reading a whole word when the
/// buffer allows (the bytes past the key are masked off).
#[inline(always)]
pub(super) fn key_head_in(b: &[u8], start: usize, len: usize) -> u64 {
    if start + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[start..start + 8]);
        let x = u64::from_le_bytes(w);
        let x = if len >= 8 {
            x
        } else {
            x & ((1u64 << (8 * len)) - 1)
        };
        x ^ (len as u64).rotate_right(8)
    } else {
        key_head(&b[start..start + len])
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct Node {
    pub(super) leaf: Option<u32>,
    /// Index of this node among its parent's children.
    pub(super) slot: u32,
    /// One bit per child (when there are at most 64).
    pub(super) full_mask: u64,
    pub(super) children: Vec<Child>,
    pub(super) map: Option<FxHashMap<Box<[u8]>, u32>>,
}

/// The trie of every pattern path, split at `.`; node 0 is the root.
#[derive(Debug, Clone)]
pub(super) struct Trie {
    nodes: Vec<Node>,
}

impl Trie {
    pub(super) fn new() -> Self {
        Trie {
            nodes: vec![Node::default()],
        }
    }

    #[inline(always)]
    pub(super) fn node(&self, node: u32) -> &Node {
        &self.nodes[node as usize]
    }

    /// Adds the segments of `path` and marks where they end as leaf `id`.
    pub(super) fn insert(&mut self, path: &str, id: u32) {
        let mut node = 0u32;
        for seg in path.as_bytes().split(|&c| c == b'.') {
            node = match self.child(node, seg) {
                Some(n) => n,
                None => {
                    let n = self.nodes.len() as u32;
                    let slot = self.nodes[node as usize].children.len() as u32;
                    self.nodes.push(Node {
                        slot,
                        ..Node::default()
                    });
                    let parent = &mut self.nodes[node as usize];
                    if slot < 64 {
                        parent.full_mask |= 1u64 << slot;
                    }
                    parent.children.push(Child {
                        head: key_head(seg),
                        key: seg.into(),
                        node: n,
                    });
                    if parent.children.len() > LINEAR_CHILDREN {
                        let map = parent.map.get_or_insert_with(FxHashMap::default);
                        for c in &parent.children {
                            map.insert(c.key.clone(), c.node);
                        }
                    }
                    n
                }
            };
        }
        self.nodes[node as usize].leaf = Some(id);
    }

    #[inline]
    fn child(&self, node: u32, seg: &[u8]) -> Option<u32> {
        self.child_h(node, seg, key_head(seg))
    }

    #[inline(always)]
    pub(super) fn child_h(&self, node: u32, seg: &[u8], head: u64) -> Option<u32> {
        let n = &self.nodes[node as usize];
        if let Some(map) = &n.map {
            return map.get(seg).copied();
        }
        for c in &n.children {
            if c.head == head && c.key.len() == seg.len() && (seg.len() <= 8 || same(&c.key, seg)) {
                return Some(c.node);
            }
        }
        None
    }

    pub(super) fn step_dotted(&self, node: u32, key: &[u8]) -> Option<u32> {
        let mut n = node;
        for seg in key.split(|&c| c == b'.') {
            n = self.child(n, seg)?;
        }
        Some(n)
    }
}
