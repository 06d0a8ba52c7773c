//! How much a password resembles the user's own data, measured the way
//! Django's `UserAttributeSimilarityValidator` does.

use std::collections::HashMap;

/// Whether `password` is at least `max_similarity` similar to any of
/// `attributes` (email, display name...) or one of their parts, ignoring case.
pub(super) fn too_similar(password: &str, attributes: &[&str], max_similarity: f64) -> bool {
    let password: Vec<char> = password.to_lowercase().chars().collect();
    attributes.iter().any(|attribute| {
        let attribute = attribute.to_lowercase();
        parts(&attribute).any(|part| {
            let part: Vec<char> = part.chars().collect();
            quick_ratio(&password, &part) >= max_similarity
        })
    })
}

/// The attribute, its local part when it is an email address, and its
/// pieces between non-word characters (`john.doe@example.com` gives `john`,
/// `doe`, `example`, `com`).
fn parts(attribute: &str) -> impl Iterator<Item = &str> {
    let local_part = attribute.rsplit_once('@').map(|(local, _)| local);
    std::iter::once(attribute)
        .chain(local_part)
        .chain(attribute.split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .filter(|part| !part.is_empty())
}

/// difflib's `quick_ratio`: twice the number of characters the two share
/// (counting repeats) over their total length. An upper bound of the
/// Ratcliff/Obershelp ratio that ignores order, as Django uses.
fn quick_ratio(a: &[char], b: &[char]) -> f64 {
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    let mut available: HashMap<char, usize> = HashMap::new();
    for &c in b {
        *available.entry(c).or_default() += 1;
    }
    let shared = a
        .iter()
        .filter(|c| match available.get_mut(c) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        })
        .count();
    2.0 * shared as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn quick_ratio_matches_difflib() {
        // Values from Python's difflib.SequenceMatcher(a=, b=).quick_ratio().
        let cases = [
            ("abcd", "bcde", 0.75),
            ("password", "password", 1.0),
            ("aaab", "ab", 2.0 * 2.0 / 6.0),
            ("abc", "xyz", 0.0),
            ("", "", 1.0),
            ("a", "", 0.0),
            ("dcba", "abcd", 1.0),
        ];
        for (a, b, expected) in cases {
            let ratio = quick_ratio(&chars(a), &chars(b));
            assert!((ratio - expected).abs() < 1e-9, "{a} {b}: {ratio}");
        }
    }

    #[test]
    fn email_and_name_parts_are_compared() {
        let context = ["john.doe@example.com", "Johnathan Doe"];
        for password in [
            "john.doe@example.com",
            "JohnDoe",
            "john.doe",
            "Johnathan1",
            "EXAMPLE",
        ] {
            assert!(too_similar(password, &context, 0.7), "{password}");
        }
        for password in ["tr0ub4dor&3", "correct horse battery", "xq7!vmz"] {
            assert!(!too_similar(password, &context, 0.7), "{password}");
        }
        assert!(!too_similar("johndoe", &[], 0.7));
        assert!(!too_similar("johndoe", &["", "@", "..."], 0.7));
    }

    #[test]
    fn threshold_is_inclusive_and_configurable() {
        // "abcd" vs "bcde": quick_ratio 0.75.
        assert!(too_similar("abcd", &["bcde"], 0.75));
        assert!(!too_similar("abcd", &["bcde"], 0.76));
        assert!(too_similar("abcd", &["bcde"], 0.5));
    }

    #[test]
    fn unicode_attributes_split_on_non_word_characters() {
        let parts: Vec<_> = parts("jürgen-müller@bücher.de").collect();
        assert_eq!(
            parts,
            [
                "jürgen-müller@bücher.de",
                "jürgen-müller",
                "jürgen",
                "müller",
                "bücher",
                "de"
            ]
        );
        assert!(too_similar("MÜLLER!", &["jürgen-müller@bücher.de"], 0.7));
    }
}
