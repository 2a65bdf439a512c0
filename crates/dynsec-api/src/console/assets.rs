//! The console's files, compiled into the binary. Adding a file under
//! `assets/` means adding its line here; a unit test fails until both agree,
//! and another until every module import and page reference resolves.

use std::sync::OnceLock;

/// One file the console serves at `/console/<path>`.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("assets/", $path)),
        }
    };
}

pub static ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("console.css", CSS),
    asset!("favicon.svg", SVG),
    asset!("js/actions.js", JS),
    asset!("js/api.js", JS),
    asset!("js/breadcrumb.js", JS),
    asset!("js/dialog.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/errors.js", JS),
    asset!("js/flash.js", JS),
    asset!("js/form.js", JS),
    asset!("js/header.js", JS),
    asset!("js/main.js", JS),
    asset!("js/menu.js", JS),
    asset!("js/paging.js", JS),
    asset!("js/paths.js", JS),
    asset!("js/router.js", JS),
    asset!("js/secret-fields.js", JS),
    asset!("js/session.js", JS),
    asset!("js/time.js", JS),
    asset!("js/screens/issued-value.js", JS),
    asset!("js/screens/items.js", JS),
    asset!("js/screens/leases.js", JS),
    asset!("js/screens/secret.js", JS),
    asset!("js/screens/sign-in.js", JS),
    asset!("js/screens/target-fields.js", JS),
    asset!("js/screens/target-form.js", JS),
    asset!("js/screens/target.js", JS),
    asset!("js/screens/targets.js", JS),
    asset!("js/screens/wizard-fields.js", JS),
    asset!("js/screens/wizard.js", JS),
];

/// The asset served at `/console/<path>`.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// A strong validator for `asset`'s body, computed once per file. Equal
/// bodies give equal tags within one build, which is all revalidation needs.
pub fn etag(asset: &Asset) -> String {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                use std::hash::{Hash, Hasher};
                let mut hasher = std::hash::DefaultHasher::new();
                a.body.hash(&mut hasher);
                format!("\"{:016x}\"", hasher.finish())
            })
            .collect()
    });
    ASSETS
        .iter()
        .position(|a| a.path == asset.path)
        .and_then(|i| tags.get(i).cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    fn assets_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console/assets")
    }

    fn files_under(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files_under(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy();
                out.insert(rel.replace('\\', "/"));
            }
        }
    }

    fn text(asset: &Asset) -> &'static str {
        std::str::from_utf8(asset.body).unwrap()
    }

    #[test]
    fn every_file_in_the_assets_folder_is_served_and_nothing_else() {
        let mut on_disk = BTreeSet::new();
        files_under(&assets_dir(), &assets_dir(), &mut on_disk);
        let served: BTreeSet<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        assert_eq!(
            on_disk, served,
            "assets.rs must list exactly the files in assets/"
        );
    }

    /// The module specifiers of a script's `import ... from '...'` lines.
    fn imports(script: &str) -> Vec<String> {
        script
            .lines()
            .map(str::trim)
            .filter(|l| {
                l.starts_with("import ") || l.starts_with("} from ") || l.starts_with("export ")
            })
            .filter_map(|l| l.rsplit_once(" from ").map(|(_, spec)| spec))
            .map(|spec| {
                spec.trim_end_matches(';')
                    .trim_matches(['\'', '"'])
                    .to_string()
            })
            .collect()
    }

    /// The `href`/`src` attribute values of a page.
    fn page_references(page: &str) -> Vec<String> {
        ["href=\"", "src=\""]
            .iter()
            .flat_map(|attr| page.match_indices(attr).map(move |(i, _)| i + attr.len()))
            .filter_map(|start| {
                page[start..]
                    .find('"')
                    .map(|end| page[start..start + end].to_string())
            })
            .collect()
    }

    /// A module or page reference to a file that isn't served would break the
    /// console in the browser only; catch it here.
    #[test]
    fn every_import_and_page_reference_resolves_to_a_served_file() {
        let mut checked = 0;
        for asset in ASSETS {
            let references = if asset.path.ends_with(".js") {
                imports(text(asset))
            } else if asset.path.ends_with(".html") {
                page_references(text(asset))
            } else {
                continue;
            };
            let base = Path::new(asset.path).parent().unwrap_or(Path::new(""));
            for reference in references.into_iter().filter(|r| !r.starts_with('#')) {
                let mut resolved: Vec<&str> = base
                    .to_str()
                    .unwrap()
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .collect();
                for part in reference.split('/') {
                    match part {
                        "." | "" => {}
                        ".." => {
                            resolved.pop();
                        }
                        other => resolved.push(other),
                    }
                }
                let target = resolved.join("/");
                assert!(
                    find(&target).is_some(),
                    "{} refers to {reference} ({target}), which is not served",
                    asset.path
                );
                checked += 1;
            }
        }
        assert!(
            checked > 30,
            "only {checked} references found: the scan is broken"
        );
    }

    /// `text` without its comments (`//` lines and `/* */` blocks), so that
    /// prose explaining a rule doesn't trip the check of that rule.
    fn code_only(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("/*") {
            out.push_str(&rest[..start]);
            rest = rest[start..]
                .find("*/")
                .map_or("", |end| &rest[start + end + 2..]);
        }
        out.push_str(rest);
        out.lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Trusted Types `'none'` makes HTML sinks throw and the CSP forbids
    /// eval and inline code, so none may appear; and the token belongs in
    /// sessionStorage only.
    #[test]
    fn no_html_sinks_eval_inline_code_or_persistent_storage() {
        let forbidden = [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "localStorage",
            "style=",
            ".setAttribute('style'",
            "onclick=\"",
        ];
        for asset in ASSETS.iter().filter(|a| a.content_type != SVG) {
            let code = code_only(text(asset));
            for needle in forbidden {
                assert!(!code.contains(needle), "{} contains `{needle}`", asset.path);
            }
        }
        let index = text(find("index.html").unwrap());
        assert!(
            !index.contains("<script>") && !index.contains("<style"),
            "index.html must not carry inline scripts or styles"
        );
    }

    #[test]
    fn tags_differ_between_files_and_are_quoted() {
        let tags: BTreeSet<String> = ASSETS.iter().map(etag).collect();
        assert_eq!(tags.len(), ASSETS.len());
        assert!(tags.iter().all(|t| t.starts_with('"') && t.ends_with('"')));
    }
}
