//! A cheap pass over a JSON document that is read whole (MISP events, feed manifests),
//! made before the document is parsed into a tree.
//!
//! Why: a tree costs far more than its text — `[0,0,0,…]` spends 2 bytes of input and
//! 32 bytes of `serde_json::Value` per element — so a 20 MB array of 10^7 numbers takes
//! 340 MB, and a file at the size limit several GB. Counting the values first bounds the
//! tree instead. (Depth needs no pass: serde_json refuses nesting past 128 levels.)

/// Most JSON values one document may hold: room for events of a few hundred thousand
/// attributes, and a tree of at most a few hundred MB.
pub const MAX_VALUES: usize = 5_000_000;

/// Where a document crossed the limit (1-based, columns in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyValues {
    pub line: usize,
    pub column: usize,
}

/// Count the values of `body` (an approximation that never undercounts containers and
/// their elements: every `[`, `{` and `,` outside strings), stopping at `max`.
pub fn check(body: &[u8], max: usize) -> Result<(), TooManyValues> {
    let (mut values, mut line, mut line_start) = (0usize, 1usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in body.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'\n' => {
                line += 1;
                line_start = i + 1;
            }
            b'[' | b'{' | b',' => {
                values += 1;
                if values > max {
                    return Err(TooManyValues {
                        line,
                        column: i - line_start + 1,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_elements_outside_strings_only() {
        assert!(check(br#"[1,2,3]"#, 3).is_ok());
        assert_eq!(
            check(b"[1,\n2,3,4]", 3),
            Err(TooManyValues { line: 2, column: 4 })
        );
        // Commas and brackets inside strings, escaped quotes included, do not count.
        assert!(check(br#"["a,b,[c]", "d\",{,", "e"]"#, 3).is_ok());
    }
}
