//! [`Metadata`]: the string map every message carries, kept as a sorted vector.
//!
//! Most frames carry no metadata or a handful of entries (`traceparent`, an auth token, an
//! error text). A `BTreeMap` puts a 544-byte node on the heap for the first entry; this map
//! keeps its entries in one vector of `(key, value)` pairs sorted by key, so one entry costs
//! 48 bytes beside its two strings, lookups are a binary search over contiguous memory, and
//! iteration is in key order like the map it replaces (encoding stays deterministic).
//!
//! A received map starts out as a checked copy of its wire section instead: [`Metadata::get_str`]
//! reads a value there, and the pairs are decoded into the vector only when asked for as
//! `String`s.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::ops::Index;
use std::sync::OnceLock;

use bytes::Bytes;

use super::metadata::wire_pairs;

/// Metadata of a message: string keys and values, each key at most once, iterated in key
/// order (so encoding is deterministic; Go's is not: never compare multi-key frames from Go
/// byte for byte).
///
/// The API follows `BTreeMap<String, String>` (`get`, `insert`, `remove`, `iter`, `keys`,
/// `retain`, `extend`, `collect`, indexing by key…), and converts from and into `BTreeMap`
/// and `HashMap`.
#[derive(Clone)]
pub struct Metadata {
    repr: Repr,
}

/// Three words either way (the box fits beside the vector's niche): messages move by value
/// and sit in every request's task, so the map is no bigger than the vector it holds.
#[derive(Clone)]
enum Repr {
    /// Sorted by key, keys unique.
    Pairs(Vec<(String, String)>),
    /// A received section, not decoded yet.
    Wire(Box<Wire>),
}

impl Default for Metadata {
    fn default() -> Metadata {
        Metadata::new()
    }
}

/// A copy of a metadata section as it arrived, already checked by
/// [`check_metadata`](super::metadata::check_metadata): every length fits, every key and value
/// is UTF-8, the entry limit holds. [`Metadata::get_str`] reads it in place; the pairs are
/// decoded once, the first time something needs them as `String`s (`get`, `iter`, `len`…),
/// and a change makes them the owned entries.
#[derive(Clone)]
struct Wire {
    raw: Bytes,
    decoded: OnceLock<Vec<(String, String)>>,
}

/// The map of a checked section, its pairs as `String`s (later duplicates win).
pub(super) fn decode_wire(raw: &[u8]) -> Metadata {
    let mut pairs = Vec::with_capacity(wire_pairs(raw).count());
    // Checked UTF-8 when it arrived, so the lossy conversion copies it unchanged.
    pairs.extend(wire_pairs(raw).map(|(k, v)| {
        (
            String::from_utf8_lossy(k).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        )
    }));
    Metadata::from_pairs(pairs)
}

impl Metadata {
    /// An empty map; allocates nothing.
    pub const fn new() -> Metadata {
        Metadata {
            repr: Repr::Pairs(Vec::new()),
        }
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Metadata {
        Metadata {
            repr: Repr::Pairs(Vec::with_capacity(n)),
        }
    }

    /// A map over a received section that [`check_metadata`](super::metadata::check_metadata)
    /// accepted (not empty), read in place until its pairs are needed.
    pub(crate) fn from_checked_wire(raw: Bytes) -> Metadata {
        Metadata {
            repr: Repr::Wire(Box::new(Wire {
                raw,
                decoded: OnceLock::new(),
            })),
        }
    }

    /// The entries, decoding a received section the first time.
    fn entries(&self) -> &Vec<(String, String)> {
        match &self.repr {
            Repr::Pairs(pairs) => pairs,
            Repr::Wire(w) => w.decoded.get_or_init(|| decode_wire(&w.raw).into_pairs()),
        }
    }

    /// The entries to change: a received section becomes owned entries.
    fn entries_mut(&mut self) -> &mut Vec<(String, String)> {
        if let Repr::Wire(w) = &mut self.repr {
            let pairs = w
                .decoded
                .take()
                .unwrap_or_else(|| decode_wire(&w.raw).into_pairs());
            self.repr = Repr::Pairs(pairs);
        }
        match &mut self.repr {
            Repr::Pairs(pairs) => pairs,
            Repr::Wire(_) => unreachable!("a received section was replaced by its pairs above"),
        }
    }

    /// The owned entries.
    fn into_pairs(mut self) -> Vec<(String, String)> {
        std::mem::take(self.entries_mut())
    }

    /// The bytes of every key and value plus 16 per entry, read off a received section
    /// without decoding it (the server's memory budgets charge this much for a request's
    /// metadata).
    pub(crate) fn charged_len(&self) -> usize {
        match &self.repr {
            Repr::Wire(w) if w.decoded.get().is_none() => {
                // Each pair's two length fields are 8 of its 16.
                w.raw.len() + 8 * wire_pairs(&w.raw).count()
            }
            _ => self.iter().map(|(k, v)| k.len() + v.len() + 16).sum(),
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
        Metadata {
            repr: Repr::Pairs(pairs),
        }
    }

    /// The value of `key` as a `&str`. Unlike [`get`](Self::get) it reads a received map in
    /// place without decoding its other entries (the server's own lookups — auth token,
    /// timeout, trace context — use it, so a call whose handler never reads its metadata
    /// makes no string of it).
    pub fn get_str(&self, key: &str) -> Option<&str> {
        let Repr::Wire(w) = &self.repr else {
            return self.get(key).map(String::as_str);
        };
        if let Some(pairs) = w.decoded.get() {
            return lookup(pairs, key).map(|i| pairs[i].1.as_str());
        }
        // Later duplicates win, as in the decoded map.
        let value = wire_pairs(&w.raw)
            .filter(|(k, _)| *k == key.as_bytes())
            .last()?
            .1;
        std::str::from_utf8(value).ok()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        match &self.repr {
            Repr::Pairs(pairs) => pairs.is_empty(),
            // Only kept when it holds at least one entry.
            Repr::Wire(_) => false,
        }
    }

    /// Removes every entry (keeps the allocation of owned entries).
    pub fn clear(&mut self) {
        match &mut self.repr {
            Repr::Pairs(pairs) => pairs.clear(),
            Repr::Wire(_) => self.repr = Repr::Pairs(Vec::new()),
        }
    }

    /// The value of `key`, if present.
    pub fn get<Q>(&self, key: &Q) -> Option<&String>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let entries = self.entries();
        search(entries, key).ok().map(|i| &entries[i].1)
    }

    /// The stored key and value of `key`, if present.
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&String, &String)>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let entries = self.entries();
        search(entries, key)
            .ok()
            .map(|i| (&entries[i].0, &entries[i].1))
    }

    /// The value of `key` for changing in place, if present.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut String>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let entries = self.entries_mut();
        match search(entries, key) {
            Ok(i) => Some(&mut entries[i].1),
            Err(_) => None,
        }
    }

    /// True when `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        search(self.entries(), key).is_ok()
    }

    /// Sets `key` to `value`, returning the value it replaces (the stored key is kept, as
    /// `BTreeMap` does).
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        let entries = self.entries_mut();
        match search(entries, key.as_str()) {
            Ok(i) => Some(std::mem::replace(&mut entries[i].1, value)),
            Err(i) => {
                insert_at(entries, i, key, value);
                None
            }
        }
    }

    /// The value of `key`, inserting `make()` first when the key is absent.
    pub fn get_or_insert_with(
        &mut self,
        key: String,
        make: impl FnOnce() -> String,
    ) -> &mut String {
        let entries = self.entries_mut();
        let i = match search(entries, key.as_str()) {
            Ok(i) => i,
            Err(i) => {
                insert_at(entries, i, key, make());
                i
            }
        };
        &mut entries[i].1
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
        let entries = self.entries_mut();
        match search(entries, key) {
            Ok(i) => Some(entries.remove(i)),
            Err(_) => None,
        }
    }

    /// Keeps only the entries for which `keep(key, value)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut String) -> bool) {
        self.entries_mut().retain_mut(|(k, v)| keep(k, v));
    }

    /// The entries in key order.
    pub fn iter(&self) -> MetadataIter<'_> {
        MetadataIter {
            inner: self.entries().iter(),
        }
    }

    /// The entries in key order, values changeable.
    pub fn iter_mut(&mut self) -> MetadataIterMut<'_> {
        MetadataIterMut {
            inner: self.entries_mut().iter_mut(),
        }
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.entries().iter().map(|(k, _)| k)
    }

    /// The values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.entries().iter().map(|(_, v)| v)
    }

    /// The entries in key order as a slice of pairs.
    pub fn as_slice(&self) -> &[(String, String)] {
        self.entries()
    }

    /// The first entry in key order.
    pub fn first_key_value(&self) -> Option<(&String, &String)> {
        self.entries().first().map(|(k, v)| (k, v))
    }

    /// The last entry in key order.
    pub fn last_key_value(&self) -> Option<(&String, &String)> {
        self.entries().last().map(|(k, v)| (k, v))
    }
}

/// Where `key` is in sorted `pairs` (`Err`: where it would go).
fn search<Q>(pairs: &[(String, String)], key: &Q) -> Result<usize, usize>
where
    String: Borrow<Q>,
    Q: Ord + ?Sized,
{
    pairs.binary_search_by(|(k, _)| Borrow::<Q>::borrow(k).cmp(key))
}

/// The index of `key` in sorted `pairs`.
fn lookup(pairs: &[(String, String)], key: &str) -> Option<usize> {
    search(pairs, key).ok()
}

fn insert_at(pairs: &mut Vec<(String, String)>, i: usize, key: String, value: String) {
    if pairs.capacity() == 0 {
        // One entry is the common case (a trace context, an auth token, an error text):
        // do not let the first insert reserve four.
        pairs.reserve_exact(1);
    }
    pairs.insert(i, (key, value));
}

/// Equal when the entries are (a received map and a built one compare by content).
impl PartialEq for Metadata {
    fn eq(&self, other: &Metadata) -> bool {
        self.entries() == other.entries()
    }
}

impl Eq for Metadata {}

impl std::hash::Hash for Metadata {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.entries().hash(state);
    }
}

impl PartialOrd for Metadata {
    fn partial_cmp(&self, other: &Metadata) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Metadata {
    fn cmp(&self, other: &Metadata) -> std::cmp::Ordering {
        self.entries().cmp(other.entries())
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
        self.into_pairs().into_iter()
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
            repr: Repr::Pairs(map.into_iter().collect()),
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
        meta.into_iter().collect()
    }
}

impl<S: BuildHasher + Default> From<Metadata> for HashMap<String, String, S> {
    fn from(meta: Metadata) -> HashMap<String, String, S> {
        meta.into_iter().collect()
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
        assert_eq!(m.entries().capacity(), 1);
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

    /// A received section: `z`, `a`, `z` again (a later duplicate), in wire order.
    fn received() -> Metadata {
        let mut raw = Vec::new();
        for (k, v) in [("z", "first"), ("a", "1"), ("z", "last")] {
            for part in [k, v] {
                raw.extend_from_slice(&(part.len() as u32).to_be_bytes());
                raw.extend_from_slice(part.as_bytes());
            }
        }
        let limits = crate::protocol::Limits::default();
        super::super::metadata::check_metadata(&raw, &limits).unwrap()
    }

    fn is_decoded(m: &Metadata) -> bool {
        match &m.repr {
            Repr::Pairs(_) => true,
            Repr::Wire(w) => w.decoded.get().is_some(),
        }
    }

    #[test]
    fn the_map_is_no_bigger_than_its_vector() {
        assert_eq!(
            std::mem::size_of::<Metadata>(),
            std::mem::size_of::<Vec<(String, String)>>()
        );
    }

    #[test]
    fn a_received_section_is_read_in_place_until_its_pairs_are_needed() {
        let m = received();
        assert!(!m.is_empty());
        assert_eq!(m.get_str("a"), Some("1"));
        assert_eq!(
            m.get_str("z"),
            Some("last"),
            "a later duplicate wins, as in Go"
        );
        assert_eq!(m.get_str("b"), None);
        assert_eq!(m.clone().get_str("z"), Some("last"));
        // Three pairs of 13 bytes in all, charged as the decoded form would be.
        assert_eq!(m.charged_len(), 13 + 3 * 16);
        assert!(
            !is_decoded(&m),
            "get_str or charged_len decoded the section"
        );
        // Lookups by `&String` and iteration decode it once, with the same answers.
        assert_eq!(m.get("z"), Some(&s("last")));
        assert!(is_decoded(&m));
        assert_eq!(m.get_str("z"), Some("last"));
        assert_eq!(m.len(), 2);
        let pairs: Vec<_> = m.iter().collect();
        assert_eq!(pairs, [(&s("a"), &s("1")), (&s("z"), &s("last"))]);
    }

    #[test]
    fn a_received_section_compares_hashes_and_converts_like_built_entries() {
        let built = Metadata::from([(s("a"), s("1")), (s("z"), s("last"))]);
        let state = std::hash::RandomState::new();
        let h = |m: &Metadata| std::hash::BuildHasher::hash_one(&state, m);
        assert_eq!(received(), built);
        assert_eq!(h(&received()), h(&built));
        assert_eq!(received().cmp(&built), std::cmp::Ordering::Equal);
        assert_eq!(format!("{:?}", received()), r#"{"a": "1", "z": "last"}"#);
        assert_eq!(BTreeMap::from(received()), BTreeMap::from(built.clone()));
        assert_eq!(
            received().into_iter().collect::<Vec<_>>(),
            built.clone().into_iter().collect::<Vec<_>>()
        );
        assert_eq!(
            serde_json::to_string(&received()).unwrap(),
            r#"{"a":"1","z":"last"}"#
        );
        let mut out = Vec::new();
        crate::protocol::encode_metadata(&received(), &mut out);
        let mut expected = Vec::new();
        crate::protocol::encode_metadata(&built, &mut expected);
        assert_eq!(out, expected, "re-encoded in key order, the duplicate gone");
    }

    #[test]
    fn changing_a_received_section_makes_its_pairs_owned() {
        let mut m = received();
        assert_eq!(m.insert(s("b"), s("2")), None);
        assert!(matches!(m.repr, Repr::Pairs(_)));
        assert_eq!(m.get_str("b"), Some("2"));
        assert_eq!(m.get_str("z"), Some("last"));
        let mut m = received();
        assert_eq!(m.remove("z"), Some(s("last")));
        assert_eq!(m.keys().collect::<Vec<_>>(), [&s("a")]);
        let mut m = received();
        m.get_mut("a").unwrap().push('!');
        assert_eq!(m.get_str("a"), Some("1!"));
        let mut m = received();
        m.clear();
        assert!(m.is_empty());
        assert_eq!(m.get_str("a"), None);
        let mut m = received();
        let _ = m.get("a"); // decoded first: the decoded pairs are kept, not decoded again
        m.retain(|k, _| k == "z");
        assert_eq!(m, Metadata::from([(s("z"), s("last"))]));
    }
}
