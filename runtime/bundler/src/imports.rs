//! Finding and rewriting a module's dependencies: `import`/`export … from`, `import()` and
//! `require()` with a string literal. Each specifier is handed to a callback (which resolves it)
//! and replaced by what the callback returns: the bundled module's id, or the name of an engine
//! module. `import.meta` becomes `{ url: "file://…" }`.

use swc_core::common::{DUMMY_SP, Span, SyntaxContext};
use swc_core::ecma::ast::{
    CallExpr, Callee, Expr, Lit, MetaPropKind, ObjectLit, Prop, PropOrSpread, Str, TryStmt,
};
use swc_core::ecma::visit::{VisitMut, VisitMutWith};

pub use crate::resolve::ImportKind;

/// One dependency as the source wrote it.
pub struct Dependency<'a> {
    pub specifier: &'a str,
    pub span: Span,
    pub kind: ImportKind,
    /// Inside a `try` block: a `require()` there may be optional, so failing to resolve it
    /// is left to run time.
    pub in_try: bool,
}

/// Rewrites every dependency of a module with `rewrite`, which returns the new specifier, or
/// `None` to leave it unchanged.
pub fn rewrite<F>(
    program: &mut swc_core::ecma::ast::Program,
    unresolved: SyntaxContext,
    import_meta_url: &str,
    rewrite: F,
) where
    F: FnMut(Dependency<'_>) -> Option<String>,
{
    program.visit_mut_with(&mut Rewriter {
        rewrite,
        unresolved,
        import_meta_url,
        try_depth: 0,
    });
}

struct Rewriter<'u, F> {
    rewrite: F,
    unresolved: SyntaxContext,
    import_meta_url: &'u str,
    try_depth: usize,
}

impl<F: FnMut(Dependency<'_>) -> Option<String>> Rewriter<'_, F> {
    fn apply(&mut self, src: &mut Str, kind: ImportKind) {
        let Some(spec) = src.value.as_str().map(str::to_owned) else {
            return;
        };
        if let Some(new) = (self.rewrite)(Dependency {
            specifier: &spec,
            span: src.span,
            kind,
            in_try: self.try_depth > 0,
        }) {
            *src = Str {
                span: src.span,
                value: new.into(),
                raw: None,
            };
        }
    }
}

fn string_arg(call: &mut CallExpr) -> Option<&mut Str> {
    if call.args.len() != 1 || call.args[0].spread.is_some() {
        return None;
    }
    match &mut *call.args[0].expr {
        Expr::Lit(Lit::Str(s)) => Some(s),
        _ => None,
    }
}

impl<F: FnMut(Dependency<'_>) -> Option<String>> VisitMut for Rewriter<'_, F> {
    fn visit_mut_import_decl(&mut self, n: &mut swc_core::ecma::ast::ImportDecl) {
        if !n.type_only {
            self.apply(&mut n.src, ImportKind::Import);
        }
    }

    fn visit_mut_export_all(&mut self, n: &mut swc_core::ecma::ast::ExportAll) {
        if !n.type_only {
            self.apply(&mut n.src, ImportKind::Import);
        }
    }

    fn visit_mut_named_export(&mut self, n: &mut swc_core::ecma::ast::NamedExport) {
        if let Some(src) = &mut n.src
            && !n.type_only
        {
            self.apply(src, ImportKind::Import);
        }
    }

    fn visit_mut_call_expr(&mut self, n: &mut CallExpr) {
        n.visit_mut_children_with(self);
        let kind = match &n.callee {
            Callee::Import(_) => ImportKind::Import,
            Callee::Expr(e) => match &**e {
                Expr::Ident(i) if i.sym == "require" && i.ctxt == self.unresolved => {
                    ImportKind::Require
                }
                _ => return,
            },
            Callee::Super(_) => return,
        };
        if let Some(s) = string_arg(n) {
            self.apply(s, kind);
        }
    }

    fn visit_mut_try_stmt(&mut self, n: &mut TryStmt) {
        self.try_depth += 1;
        n.block.visit_mut_with(self);
        self.try_depth -= 1;
        n.handler.visit_mut_with(self);
        n.finalizer.visit_mut_with(self);
    }

    fn visit_mut_expr(&mut self, n: &mut Expr) {
        if let Expr::MetaProp(m) = n
            && m.kind == MetaPropKind::ImportMeta
        {
            *n = Expr::Object(ObjectLit {
                span: m.span,
                props: vec![PropOrSpread::Prop(Box::new(Prop::KeyValue(
                    swc_core::ecma::ast::KeyValueProp {
                        key: swc_core::ecma::ast::PropName::Ident("url".into()),
                        value: Box::new(Expr::Lit(Lit::Str(Str {
                            span: DUMMY_SP,
                            value: self.import_meta_url.into(),
                            raw: None,
                        }))),
                    },
                )))],
            });
            return;
        }
        n.visit_mut_children_with(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Lang, parse};
    use std::path::Path;
    use swc_core::common::{FileName, GLOBALS, Globals, Mark, SourceMap, sync::Lrc};
    use swc_core::ecma::transforms::base::resolver;

    /// The dependencies of `text`, and the code after rewriting each to `#<n>`.
    fn deps(text: &str) -> (Vec<(String, ImportKind, bool)>, String) {
        GLOBALS.set(&Globals::new(), || {
            let cm = Lrc::new(SourceMap::default());
            let fm = cm.new_source_file(Lrc::new(FileName::Custom("t.js".into())), text.to_owned());
            let mut p = parse(&cm, &fm, Lang::of(Path::new("t.js")), "t.js").unwrap();
            let unresolved = Mark::new();
            p.mutate(resolver(unresolved, Mark::new(), false));
            let mut found = Vec::new();
            rewrite(
                &mut p,
                SyntaxContext::empty().apply_mark(unresolved),
                "file:///t.js",
                |d| {
                    found.push((d.specifier.to_owned(), d.kind, d.in_try));
                    Some(format!("#{}", found.len()))
                },
            );
            let code = crate::emit::print_for_tests(&cm, &p);
            (found, code)
        })
    }

    #[test]
    fn finds_every_kind_of_dependency() {
        let (found, code) = deps(
            "import a from 'a'; export * from './b'; export { c } from './c';\n\
             const d = require('d'); const e = import('./e'); const local = require;\n\
             try { require('opt') } catch {}\n\
             function f(require) { return require('not-a-dep') }\n\
             export const u = import.meta.url;",
        );
        let names: Vec<_> = found.iter().map(|(s, _, _)| s.as_str()).collect();
        assert_eq!(names, ["a", "./b", "./c", "d", "./e", "opt"]);
        assert_eq!(found[3].1, ImportKind::Require);
        assert_eq!(found[4].1, ImportKind::Import);
        assert!(found[5].2 && !found[3].2);
        assert!(code.contains("from \"#1\""), "{code}");
        assert!(code.contains("require(\"#4\")"), "{code}");
        assert!(
            code.contains("require('not-a-dep')") || code.contains("require(\"not-a-dep\")"),
            "{code}"
        );
        assert!(code.contains("url: \"file:///t.js\""), "{code}");
    }
}
