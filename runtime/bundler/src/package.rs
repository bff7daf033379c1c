//! `package.json`: reading it (cached per folder) and matching a subpath against its `exports`
//! (or `imports`) map with a set of conditions, as Node.js does: exact keys, then `*` patterns
//! (longest prefix wins); condition objects are tried in the package's own key order and the
//! first key that is `default` or an active condition wins; arrays give fallbacks.

use crate::errors::{BundleError, ErrorKind};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The fields of a `package.json` the bundler uses.
#[derive(Debug, Default)]
pub struct Package {
    pub dir: PathBuf,
    pub name: Option<String>,
    pub main: Option<String>,
    pub module: Option<String>,
    pub exports: Option<Value>,
    pub imports: Option<Value>,
}

impl Package {
    pub fn parse(dir: &Path, text: &str) -> Result<Package, BundleError> {
        let file = dir.join("package.json");
        let v: Value = serde_json::from_str(text).map_err(|e| {
            BundleError::new(
                ErrorKind::Package,
                format!("{}: invalid JSON: {e}", file.display()),
            )
        })?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(Package {
            dir: dir.to_path_buf(),
            name: s("name"),
            main: s("main"),
            module: s("module"),
            exports: v.get("exports").cloned(),
            imports: v.get("imports").cloned(),
        })
    }

    /// The keys of the `exports` map, to tell a user what a package does export.
    pub fn export_keys(&self) -> Vec<String> {
        match &self.exports {
            Some(Value::Object(m)) if m.keys().any(|k| k.starts_with('.')) => {
                m.keys().cloned().collect()
            }
            Some(_) => vec![".".into()],
            None => Vec::new(),
        }
    }
}

/// `package.json` files by folder, `None` when a folder has none.
#[derive(Default)]
pub struct PackageCache {
    by_dir: RefCell<HashMap<PathBuf, Option<Rc<Package>>>>,
}

impl PackageCache {
    pub fn get(&self, dir: &Path) -> Result<Option<Rc<Package>>, BundleError> {
        if let Some(p) = self.by_dir.borrow().get(dir) {
            return Ok(p.clone());
        }
        let file = dir.join("package.json");
        let pkg = match std::fs::read_to_string(&file) {
            Ok(text) => Some(Rc::new(Package::parse(dir, &text)?)),
            Err(_) => None,
        };
        self.by_dir
            .borrow_mut()
            .insert(dir.to_path_buf(), pkg.clone());
        Ok(pkg)
    }

    /// The nearest `package.json` at or above `dir`.
    pub fn nearest(&self, dir: &Path) -> Result<Option<Rc<Package>>, BundleError> {
        for d in dir.ancestors() {
            if let Some(p) = self.get(d)? {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }
}

/// Looks `subpath` (`.` or `./x`, or `#x` for imports) up in an `exports`/`imports` map and
/// returns the target path relative to the package folder (`./dist/x.js`), or `None` when the
/// map does not allow it for these conditions.
pub fn match_map(map: &Value, subpath: &str, conditions: &[String]) -> Option<String> {
    // `"exports": "./x.js"`, an array, or an object of conditions are all sugar for { ".": … }.
    let entries = match map {
        Value::Object(m) if m.keys().any(|k| k.starts_with('.') || k.starts_with('#')) => m,
        _ if subpath == "." => return resolve_target(map, None, conditions),
        _ => return None,
    };
    if let Some(target) = entries.get(subpath)
        && !subpath.contains('*')
    {
        return resolve_target(target, None, conditions);
    }
    let mut best: Option<(&str, &Value, String)> = None;
    for (key, target) in entries {
        let Some((prefix, suffix)) = key.split_once('*') else {
            continue;
        };
        if subpath.len() >= key.len() - 1
            && subpath.starts_with(prefix)
            && subpath.ends_with(suffix)
            && best.as_ref().is_none_or(|(k, _, _)| prefix.len() > k.len())
        {
            let middle = subpath[prefix.len()..subpath.len() - suffix.len()].to_owned();
            best = Some((prefix, target, middle));
        }
    }
    let (_, target, middle) = best?;
    resolve_target(target, Some(&middle), conditions)
}

fn resolve_target(target: &Value, pattern: Option<&str>, conditions: &[String]) -> Option<String> {
    match target {
        Value::String(s) => {
            // Targets must stay inside the package; bare names (re-exporting another
            // package) are allowed in `imports` only.
            if s.contains("/../") || s.starts_with("../") {
                return None;
            }
            Some(match pattern {
                Some(m) => s.replace('*', m),
                None => s.clone(),
            })
        }
        Value::Object(m) => m.iter().find_map(|(k, v)| {
            (k == "default" || conditions.iter().any(|c| c == k))
                .then(|| resolve_target(v, pattern, conditions))
                .flatten()
        }),
        Value::Array(a) => a
            .iter()
            .find_map(|v| resolve_target(v, pattern, conditions)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conds(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sugar_and_exact_subpaths() {
        let c = conds(&["import", "default"]);
        assert_eq!(
            match_map(&json!("./i.js"), ".", &c).as_deref(),
            Some("./i.js")
        );
        assert_eq!(match_map(&json!("./i.js"), "./x", &c), None);
        let m = json!({ ".": { "types": "./i.d.ts", "import": "./esm.js", "require": "./cjs.js" },
                        "./cors": { "import": "./cors.mjs" } });
        assert_eq!(match_map(&m, ".", &c).as_deref(), Some("./esm.js"));
        assert_eq!(match_map(&m, "./cors", &c).as_deref(), Some("./cors.mjs"));
        assert_eq!(match_map(&m, "./nope", &c), None);
        let req = conds(&["require", "default"]);
        assert_eq!(match_map(&m, ".", &req).as_deref(), Some("./cjs.js"));
    }

    #[test]
    fn package_key_order_decides_among_active_conditions() {
        let m = json!({ "node": "./node.js", "worker": "./worker.js", "browser": "./browser.js", "default": "./d.js" });
        let c = conds(&["workerd", "worker", "browser", "import", "default"]);
        assert_eq!(match_map(&m, ".", &c).as_deref(), Some("./worker.js"));
        let nested = json!({ "import": { "workerd": "./w.mjs", "default": "./i.mjs" }, "default": "./d.js" });
        assert_eq!(match_map(&nested, ".", &c).as_deref(), Some("./w.mjs"));
        assert_eq!(
            match_map(&nested, ".", &conds(&["require"])).as_deref(),
            Some("./d.js")
        );
    }

    #[test]
    fn patterns_longest_prefix_and_arrays() {
        let m = json!({ "./*": "./dist/*.js", "./utils/*": ["./u/*.mjs", "./u/*.js"], "./private/*": null });
        let c = conds(&["default"]);
        assert_eq!(match_map(&m, "./a/b", &c).as_deref(), Some("./dist/a/b.js"));
        assert_eq!(match_map(&m, "./utils/x", &c).as_deref(), Some("./u/x.mjs"));
        assert_eq!(match_map(&m, "./private/x", &c), None);
        let imports = json!({ "#internal/*": "./src/internal/*.js" });
        assert_eq!(
            match_map(&imports, "#internal/a", &c).as_deref(),
            Some("./src/internal/a.js")
        );
    }

    #[test]
    fn reads_fields_and_reports_bad_json() {
        let p = Package::parse(
            Path::new("/p"),
            r#"{"name":"x","main":"m.js","exports":{".":"./e.js","./y":"./y.js"}}"#,
        )
        .unwrap();
        assert_eq!(p.name.as_deref(), Some("x"));
        assert_eq!(p.export_keys(), vec![".".to_string(), "./y".to_string()]);
        let e = Package::parse(Path::new("/p"), "{ nope").unwrap_err();
        assert!(
            e.to_string().contains("/p/package.json: invalid JSON"),
            "{e}"
        );
    }
}
