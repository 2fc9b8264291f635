//! Links from the gallery's pages to files in the shared folder.

/// A root-relative `/`-separated path as a URL path: each component percent-encoded.
pub fn url_path(rel: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    rel.split('/')
        .map(|part| percent_encoding::utf8_percent_encode(part, SET).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths_encode_each_component() {
        assert_eq!(url_path("alice/a b#1.png"), "alice/a%20b%231.png");
        assert_eq!(url_path("bob/Ünï.png"), "bob/%C3%9Cn%C3%AF.png");
    }
}
