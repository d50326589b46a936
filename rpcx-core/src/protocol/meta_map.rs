//! [`Metadata`]: the string map every message carries, kept as a sorted vector.
//!
//! Most frames carry no metadata or a handful of entries (`traceparent`, an auth token, an
//! error text). A `BTreeMap` puts a 544-byte node on the heap for the first entry; this map
//! keeps its entries in one vector of `(key, value)` pairs sorted by key, so one entry costs
//! 48 bytes beside its two strings, lookups are a binary search over contiguous memory, and
//! iteration is in key order like the map it replaces (encoding stays deterministic).

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::ops::Index;

/// Metadata of a message: string keys and values, each key at most once, iterated in key
/// order (so encoding is deterministic; Go's is not: never compare multi-key frames from Go
/// byte for byte).
///
/// The API follows `BTreeMap<String, String>` (`get`, `insert`, `remove`, `iter`, `keys`,
/// `retain`, `extend`, `collect`, indexing by key…), and converts from and into `BTreeMap`
/// and `HashMap`.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Metadata {
    /// Sorted by key, keys unique.
    entries: Vec<(String, String)>,
}

impl Metadata {
    /// An empty map; allocates nothing.
    pub const fn new() -> Metadata {
        Metadata {
            entries: Vec::new(),
        }
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Metadata {
        Metadata {
            entries: Vec::with_capacity(n),
        }
    }

    /// Builds a map from pairs in any order; for a key given more than once the last value
    /// wins (as with repeated `insert`, and as Go's decoder does with a repeated key).
    pub fn from_pairs(mut pairs: Vec<(String, String)>) -> Metadata {
        if !pairs.windows(2).all(|w| w[0].0 < w[1].0) {
            // Stable, so equal keys keep their arrival order; then keep each run's last.
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            let mut kept: Vec<(String, String)> = Vec::with_capacity(pairs.len());
            for pair in pairs {
                match kept.last_mut() {
                    Some(last) if last.0 == pair.0 => *last = pair,
                    _ => kept.push(pair),
                }
            }
            pairs = kept;
        }
        Metadata { entries: pairs }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry (keeps the allocation).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    fn position<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries
            .binary_search_by(|(k, _)| Borrow::<Q>::borrow(k).cmp(key))
    }

    /// The value of `key`, if present.
    pub fn get<Q>(&self, key: &Q) -> Option<&String>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.position(key).ok().map(|i| &self.entries[i].1)
    }

    /// The stored key and value of `key`, if present.
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&String, &String)>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.position(key)
            .ok()
            .map(|i| (&self.entries[i].0, &self.entries[i].1))
    }

    /// The value of `key` for changing in place, if present.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut String>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match self.position(key) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    /// True when `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.position(key).is_ok()
    }

    /// Sets `key` to `value`, returning the value it replaces (the stored key is kept, as
    /// `BTreeMap` does).
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.position(key.as_str()) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.insert_at(i, key, value);
                None
            }
        }
    }

    fn insert_at(&mut self, i: usize, key: String, value: String) {
        if self.entries.capacity() == 0 {
            // One entry is the common case (a trace context, an auth token, an error text):
            // do not let the first insert reserve four.
            self.entries.reserve_exact(1);
        }
        self.entries.insert(i, (key, value));
    }

    /// The value of `key`, inserting `make()` first when the key is absent.
    pub fn get_or_insert_with(
        &mut self,
        key: String,
        make: impl FnOnce() -> String,
    ) -> &mut String {
        let i = match self.position(key.as_str()) {
            Ok(i) => i,
            Err(i) => {
                self.insert_at(i, key, make());
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Removes `key`, returning its value if it was present.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<String>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes `key`, returning the stored key and its value if it was present.
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(String, String)>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match self.position(key) {
            Ok(i) => Some(self.entries.remove(i)),
            Err(_) => None,
        }
    }

    /// Keeps only the entries for which `keep(key, value)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut String) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    /// The entries in key order.
    pub fn iter(&self) -> MetadataIter<'_> {
        MetadataIter {
            inner: self.entries.iter(),
        }
    }

    /// The entries in key order, values changeable.
    pub fn iter_mut(&mut self) -> MetadataIterMut<'_> {
        MetadataIterMut {
            inner: self.entries.iter_mut(),
        }
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The entries in key order as a slice of pairs.
    pub fn as_slice(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The first entry in key order.
    pub fn first_key_value(&self) -> Option<(&String, &String)> {
        self.entries.first().map(|(k, v)| (k, v))
    }

    /// The last entry in key order.
    pub fn last_key_value(&self) -> Option<(&String, &String)> {
        self.entries.last().map(|(k, v)| (k, v))
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// `meta["key"]`: the value of a key that must be present.
impl<Q> Index<&Q> for Metadata
where
    String: Borrow<Q>,
    Q: Ord + ?Sized,
{
    type Output = String;

    /// Panics when the key is absent, as `BTreeMap` does.
    fn index(&self, key: &Q) -> &String {
        self.get(key).expect("no entry found for key")
    }
}

/// Iterator over `(&key, &value)` in key order, from [`Metadata::iter`].
#[derive(Clone, Debug)]
pub struct MetadataIter<'a> {
    inner: std::slice::Iter<'a, (String, String)>,
}

impl<'a> Iterator for MetadataIter<'a> {
    type Item = (&'a String, &'a String);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(k, v)| (k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for MetadataIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(k, v)| (k, v))
    }
}

impl ExactSizeIterator for MetadataIter<'_> {}

/// Iterator over `(&key, &mut value)` in key order, from [`Metadata::iter_mut`].
#[derive(Debug)]
pub struct MetadataIterMut<'a> {
    inner: std::slice::IterMut<'a, (String, String)>,
}

impl<'a> Iterator for MetadataIterMut<'a> {
    type Item = (&'a String, &'a mut String);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(k, v)| (&*k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for MetadataIterMut<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(k, v)| (&*k, v))
    }
}

impl ExactSizeIterator for MetadataIterMut<'_> {}

impl<'a> IntoIterator for &'a Metadata {
    type Item = (&'a String, &'a String);
    type IntoIter = MetadataIter<'a>;

    fn into_iter(self) -> MetadataIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Metadata {
    type Item = (&'a String, &'a mut String);
    type IntoIter = MetadataIterMut<'a>;

    fn into_iter(self) -> MetadataIterMut<'a> {
        self.iter_mut()
    }
}

/// The owned entries in key order.
impl IntoIterator for Metadata {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(String, String)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Metadata {
        Metadata::from_pairs(iter.into_iter().collect())
    }
}

impl Extend<(String, String)> for Metadata {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a> Extend<(&'a String, &'a String)> for Metadata {
    fn extend<I: IntoIterator<Item = (&'a String, &'a String)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k.clone(), v.clone());
        }
    }
}

impl<const N: usize> From<[(String, String); N]> for Metadata {
    fn from(pairs: [(String, String); N]) -> Metadata {
        Metadata::from_pairs(Vec::from(pairs))
    }
}

impl From<BTreeMap<String, String>> for Metadata {
    fn from(map: BTreeMap<String, String>) -> Metadata {
        // Already sorted and unique.
        Metadata {
            entries: map.into_iter().collect(),
        }
    }
}

impl<S: BuildHasher> From<HashMap<String, String, S>> for Metadata {
    fn from(map: HashMap<String, String, S>) -> Metadata {
        Metadata::from_pairs(map.into_iter().collect())
    }
}

impl From<Metadata> for BTreeMap<String, String> {
    fn from(meta: Metadata) -> BTreeMap<String, String> {
        meta.entries.into_iter().collect()
    }
}

impl<S: BuildHasher + Default> From<Metadata> for HashMap<String, String, S> {
    fn from(meta: Metadata) -> HashMap<String, String, S> {
        meta.entries.into_iter().collect()
    }
}

impl PartialEq<BTreeMap<String, String>> for Metadata {
    fn eq(&self, other: &BTreeMap<String, String>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl serde::Serialize for Metadata {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for Metadata {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Metadata, D::Error> {
        BTreeMap::<String, String>::deserialize(d).map(Metadata::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        x.to_owned()
    }

    #[test]
    fn keeps_keys_sorted_and_unique() {
        let mut m = Metadata::new();
        assert_eq!(m.insert(s("b"), s("2")), None);
        assert_eq!(m.insert(s("a"), s("1")), None);
        assert_eq!(m.insert(s("c"), s("3")), None);
        assert_eq!(m.insert(s("b"), s("two")), Some(s("2")));
        let keys: Vec<&String> = m.keys().collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(m.get("b").map(String::as_str), Some("two"));
        assert_eq!(m["c"], "3");
        assert!(m.contains_key("a"));
        assert!(!m.contains_key("z"));
        assert_eq!(m.remove("a"), Some(s("1")));
        assert_eq!(m.remove("a"), None);
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn the_first_entry_reserves_one_slot() {
        let mut m = Metadata::new();
        m.insert(s("traceparent"), s("00-…"));
        assert_eq!(m.entries.capacity(), 1);
    }

    #[test]
    fn from_pairs_sorts_and_later_duplicates_win() {
        let m = Metadata::from_pairs(vec![
            (s("z"), s("1")),
            (s("a"), s("first")),
            (s("m"), s("x")),
            (s("a"), s("second")),
            (s("a"), s("last")),
        ]);
        let pairs: Vec<(&String, &String)> = m.iter().collect();
        assert_eq!(
            pairs,
            [
                (&s("a"), &s("last")),
                (&s("m"), &s("x")),
                (&s("z"), &s("1"))
            ]
        );
    }

    #[test]
    fn converts_like_the_map_it_replaces() {
        let btree: BTreeMap<String, String> =
            [(s("k"), s("v")), (s("a"), s("b"))].into_iter().collect();
        let m = Metadata::from(btree.clone());
        assert_eq!(m, btree);
        assert_eq!(BTreeMap::from(m.clone()), btree);
        let hashed: HashMap<String, String> = m.clone().into();
        assert_eq!(Metadata::from(hashed), m);
        assert_eq!(format!("{m:?}"), format!("{btree:?}"));
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            serde_json::to_string(&btree).unwrap()
        );
        let back: Metadata = serde_json::from_str(r#"{"b":"1","a":"2"}"#).unwrap();
        assert_eq!(back.keys().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn retain_extend_and_get_or_insert_with() {
        let mut m: Metadata = [(s("a"), s("1")), (s("b"), s("2"))].into();
        m.extend([(s("c"), s("3")), (s("a"), s("one"))]);
        m.retain(|k, v| {
            v.push('!');
            k != "b"
        });
        assert_eq!(m["a"], "one!");
        assert_eq!(m["c"], "3!");
        assert!(!m.contains_key("b"));
        m.get_or_insert_with(s("d"), || s("new")).push('?');
        m.get_or_insert_with(s("a"), || unreachable!()).push('?');
        assert_eq!(m["d"], "new?");
        assert_eq!(m["a"], "one!?");
        for (_, v) in &mut m {
            v.clear();
        }
        assert!(m.values().all(String::is_empty));
    }
}
