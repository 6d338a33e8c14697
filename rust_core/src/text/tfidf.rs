//! TF-IDF over word unigrams and bigrams, and the cosine similarity of every pair of
//! documents, computed through per-feature postings in an order fixed by the documents'
//! contents.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::hash::{mix, AFFIRM_TOKEN, NEGATION_TOKEN};

/// How much more a stance feature (negation, affirmation) weighs than a word of equal TF-IDF:
/// stance is where a verdict's conclusion is.
const STANCE_WEIGHT: f64 = 2.0;

/// TF-IDF cosine similarity of every pair of documents, each given as its word features
/// (see [`word_features`](super::word_features)): features are the words and the word bigrams, weighted by
/// sublinear TF times smoothed IDF fitted on the documents themselves (stance features
/// weigh `STANCE_WEIGHT` more). Symmetric, diagonal 1, values in [0, 1]; a document without
/// features has similarity 0 to every other one.
///
/// The documents are taken in a canonical order (by content) and their features numbered by
/// first occurrence in that order, so every sum can run in an order fixed by the contents
/// alone — a norm in its document's own order, a dot product in feature-number order — and the
/// result does not depend on the order of the documents. Only documents that share a feature
/// are ever multiplied (through per-feature postings).
pub fn cosine_matrix<W: AsRef<[u64]>>(docs: &[W]) -> Vec<Vec<f64>> {
    let n = docs.len();
    let mut m = vec![vec![0.0; n]; n];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    cosine_pairs(docs, |i, j, s| {
        m[i][j] = s;
        m[j][i] = s;
    });
    m
}

/// For each document, the other documents whose [`cosine_matrix`] similarity to it is at least
/// `threshold`, ascending (without building the matrix).
pub fn similar_pairs<W: AsRef<[u64]>>(docs: &[W], threshold: f64) -> Vec<Vec<usize>> {
    let mut near = vec![Vec::new(); docs.len()];
    cosine_pairs(docs, |i, j, s| {
        if s >= threshold {
            near[i].push(j);
            near[j].push(i);
        }
    });
    for list in &mut near {
        list.sort_unstable();
    }
    near
}

/// Calls `f(i, j, similarity)` once for every pair of distinct documents (see
/// [`cosine_matrix`]), with this thread's reusable [`Scratch`].
fn cosine_pairs<W: AsRef<[u64]>>(docs: &[W], f: impl FnMut(usize, usize, f64)) {
    SCRATCH.with(|cell| {
        if let Ok(mut scratch) = cell.try_borrow_mut() {
            Cosines::of(docs, &mut scratch).pairs(&scratch.dots, f);
            scratch.trim();
        } else {
            let mut scratch = Scratch::default();
            Cosines::of(docs, &mut scratch).pairs(&scratch.dots, f);
        }
    });
}

/// Buffers that [`cosine_matrix`] reuses from call to call on a thread. A call needs about a
/// megabyte of scratch for ten 1000-word answers; allocated afresh, glibc hands it back to the
/// kernel on free and faults it in again on the next call (measured: about a third of a call's
/// time). Kept only up to [`SCRATCH_KEEP`] features.
#[derive(Default)]
struct Scratch {
    ids: HashTable<u32>,
    features: Vec<Feature>,
    entries: Vec<(u32, u32)>,
    offsets: Vec<usize>,
    cursor: Vec<usize>,
    postings: Vec<(usize, f64)>,
    dots: Vec<f64>,
}

/// The most feature occurrences whose scratch space a thread keeps between calls (about 8 MB).
const SCRATCH_KEEP: usize = 1 << 18;

impl Scratch {
    /// Frees the buffers when an unusually large call grew them past [`SCRATCH_KEEP`].
    fn trim(&mut self) {
        if self.features.capacity() > SCRATCH_KEEP || self.dots.capacity() > SCRATCH_KEEP {
            *self = Scratch::default();
        }
    }

    /// Numbers the features of `docs`, taken in canonical `order`, by first occurrence, and
    /// fills `entries` with each document's distinct features and term counts; returns where
    /// each document's run of entries ends.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "u32 ids keep the id table small; 2^32 feature occurrences would take some \
                  4 GiB of text (consensus accepts 64 MiB)"
    )]
    fn count<W: AsRef<[u64]>>(&mut self, docs: &[W], order: &[usize]) -> Vec<usize> {
        let Scratch {
            ids,
            features,
            entries,
            ..
        } = self;
        let n = docs.len();
        let occurrences: usize = docs
            .iter()
            .map(|d| (2 * d.as_ref().len()).saturating_sub(1))
            .sum();
        // Feature → id: a table of 4-byte ids whose keys live in `features` (read right after the
        // lookup anyway), so the table stays small enough for the cache.
        let hasher = DefaultHashBuilder::default();
        ids.clear();
        features.clear();
        ids.reserve(occurrences.min(1 << 16), |&i| {
            hasher.hash_one(features[i as usize].key)
        });
        features.reserve(occurrences);
        // Per document (in canonical order), its distinct features with term counts.
        entries.clear();
        entries.reserve(occurrences);
        let mut ends: Vec<usize> = Vec::with_capacity(n);
        for &d in order {
            // Entries from `first` on belong to this document.
            let first = entries.len() as u32;
            let words = docs[d].as_ref();
            let bigrams = words.windows(2).map(|w| mix(w[0], w[1]));
            for f in words.iter().copied().chain(bigrams) {
                let h = hasher.hash_one(f);
                let id = if let Some(&id) = ids.find(h, |&i| features[i as usize].key == f) {
                    id
                } else {
                    let id = features.len() as u32;
                    features.push(Feature {
                        key: f,
                        df: 0,
                        entry: u32::MAX,
                    });
                    ids.insert_unique(h, id, |&i| hasher.hash_one(features[i as usize].key));
                    id
                };
                let feature = &mut features[id as usize];
                if feature.entry != u32::MAX && feature.entry >= first {
                    entries[feature.entry as usize].1 += 1;
                } else {
                    feature.entry = entries.len() as u32;
                    feature.df += 1;
                    entries.push((id, 1));
                }
            }
            ends.push(entries.len());
        }
        ends
    }

    /// Weighs every entry (sublinear TF × smoothed IDF × stance weight), lays the postings of
    /// the shared features out per feature, and returns the norm of each document (by
    /// canonical position).
    fn weigh(&mut self, n: usize, ends: &[usize]) -> Vec<f64> {
        let Scratch {
            features,
            entries,
            offsets,
            cursor,
            postings,
            ..
        } = self;
        let total = n as f64;
        let idf: Vec<f64> = (0..=n)
            .map(|df| ((1.0 + total) / (1.0 + df as f64)).ln() + 1.0)
            .collect();
        // Sublinear term frequency 1 + ln(tf), tabled for the common small counts.
        let sublinear: Vec<f64> = (0..64u32).map(|tf| 1.0 + f64::from(tf).ln()).collect();
        // Postings of the shared features (df ≥ 2), laid out per feature, documents ascending.
        offsets.clear();
        offsets.push(0);
        for f in features.iter() {
            let len = if f.df > 1 { f.df as usize } else { 0 };
            offsets.push(offsets[offsets.len() - 1] + len);
        }
        cursor.clear();
        cursor.extend_from_slice(&offsets[..features.len()]);
        postings.clear();
        postings.resize(offsets[features.len()], (0, 0.0));
        let mut norms = vec![0.0f64; n];
        let mut start = 0;
        for (p, &end) in ends.iter().enumerate() {
            let mut sum = 0.0f64;
            for &(id, tf) in &entries[start..end] {
                let tf = match sublinear.get(tf as usize) {
                    Some(&s) => s,
                    None => 1.0 + f64::from(tf).ln(),
                };
                let feature = &features[id as usize];
                let stance = if feature.key == NEGATION_TOKEN || feature.key == AFFIRM_TOKEN {
                    STANCE_WEIGHT
                } else {
                    1.0
                };
                let w = tf * idf[feature.df as usize] * stance;
                sum += w * w;
                if feature.df > 1 {
                    let c = &mut cursor[id as usize];
                    postings[*c] = (p, w);
                    *c += 1;
                }
            }
            norms[p] = sum.sqrt();
            start = end;
        }
        norms
    }

    /// Sums the dot product of every pair of documents that share a feature into `dots`
    /// (row p, column q > p, by canonical position), feature by feature.
    fn multiply(&mut self, n: usize) {
        let Scratch {
            offsets,
            postings,
            dots,
            ..
        } = self;
        dots.clear();
        dots.resize(n * n, 0.0);
        for pair in offsets.windows(2) {
            let list = &postings[pair[0]..pair[1]];
            for (x, &(p, wp)) in list.iter().enumerate() {
                let row = &mut dots[p * n..(p + 1) * n];
                for &(q, wq) in &list[x + 1..] {
                    row[q] += wp * wq;
                }
            }
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// The parts of [`cosine_matrix`]: the canonical order of the documents and their norms, by
/// canonical position (the dot products are left in the scratch).
struct Cosines {
    order: Vec<usize>,
    norms: Vec<f64>,
}

impl Cosines {
    fn of<W: AsRef<[u64]>>(docs: &[W], scratch: &mut Scratch) -> Self {
        let n = docs.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| docs[a].as_ref().cmp(docs[b].as_ref()));
        let ends = scratch.count(docs, &order);
        let norms = scratch.weigh(n, &ends);
        scratch.multiply(n);
        Cosines { order, norms }
    }

    /// Calls `f(i, j, similarity)` once for every pair of distinct documents, given the dot
    /// products that [`Cosines::of`] left in the scratch.
    fn pairs(&self, dots: &[f64], mut f: impl FnMut(usize, usize, f64)) {
        let n = self.order.len();
        for p in 0..n {
            for q in p + 1..n {
                let (np, nq) = (self.norms[p], self.norms[q]);
                let s = if np > 0.0 && nq > 0.0 {
                    (dots[p * n + q] / (np * nq)).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                f(self.order[p], self.order[q], s);
            }
        }
    }
}

/// What [`cosine_matrix`] keeps per distinct feature.
struct Feature {
    /// The feature itself.
    key: u64,
    /// Documents that hold the feature.
    df: u32,
    /// The index of the last document's entry for it (`u32::MAX` before the first): the
    /// current document holds it when that index is within the document's run of entries.
    entry: u32,
}
