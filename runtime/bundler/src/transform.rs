//! Transforming one parsed module into the body of a registry function
//! `function (module, exports, require) { … }`.
//!
//! [`prepare`] marks scopes (swc's resolver), applies legacy decorators and strips TypeScript
//! (types, `import type`, imports used only as types), so that the dependencies found next are
//! the real ones. [`finish`] turns an ES module into CommonJS with swc's `common_js` pass:
//! exports become getters on `exports` (live bindings), imported names become property reads on
//! the required module (so a cycle sees a binding once it is initialised, as ES semantics say
//! for functions and hoisted declarations), `import()` becomes a promise of the required
//! module; then names are made unique (hygiene) and parentheses fixed.

use crate::load::Lang;
use swc_core::common::{Mark, SyntaxContext};
use swc_core::ecma::ast::{Program, Stmt};
use swc_core::ecma::transforms::base::helpers::{HELPERS, Helpers, inject_helpers};
use swc_core::ecma::transforms::base::{fixer::fixer, hygiene::hygiene, resolver};
use swc_core::ecma::transforms::module::common_js::{self, FeatureFlag};
use swc_core::ecma::transforms::module::path::Resolver as PathResolver;
use swc_core::ecma::transforms::module::util::ImportInterop;
use swc_core::ecma::transforms::proposal::decorators;
use swc_core::ecma::transforms::typescript::strip;

/// The marks of one module's scope analysis.
pub struct Marks {
    pub unresolved: Mark,
    pub top_level: Mark,
}

impl Marks {
    /// The syntax context of global (unresolved) identifiers such as `require`.
    pub fn unresolved_ctxt(&self) -> SyntaxContext {
        SyntaxContext::empty().apply_mark(self.unresolved)
    }
}

/// Scope analysis, decorators and TypeScript stripping. Must run inside `GLOBALS.set`.
pub fn prepare(program: &mut Program, lang: Lang) -> Marks {
    let marks = Marks {
        unresolved: Mark::new(),
        top_level: Mark::new(),
    };
    program.mutate(resolver(marks.unresolved, marks.top_level, lang.is_ts()));
    if lang.is_ts() {
        HELPERS.set(&Helpers::new(false), || {
            program.mutate(decorators(decorators::Config {
                legacy: true,
                emit_metadata: false,
                use_define_for_class_fields: false,
            }));
            program.mutate(strip(marks.unresolved, marks.top_level));
            program.mutate(inject_helpers(marks.unresolved));
        });
    }
    marks
}

/// ES module → CommonJS (a script is CommonJS already), then hygiene and parentheses; returns
/// the statements of the registry function's body. Whether the module was an ES module is
/// [`Program::is_module`] before this call: its `require` must then be the loader's
/// `__wisp_import`, which gives a CommonJS module the namespace an ES import expects.
pub fn finish(mut program: Program, marks: &Marks) -> Vec<Stmt> {
    if program.is_module() {
        HELPERS.set(&Helpers::new(false), || {
            program.mutate(common_js::common_js(
                PathResolver::Default,
                marks.unresolved,
                common_js::Config {
                    // Interop with CommonJS happens once, in the bundle's loader
                    // (`__wisp_import`), instead of helpers repeated in every module.
                    import_interop: Some(ImportInterop::None),
                    ..Default::default()
                },
                FeatureFlag {
                    support_block_scoping: true,
                    support_arrow: true,
                },
            ));
            program.mutate(inject_helpers(marks.unresolved));
        });
    }
    program.mutate(hygiene());
    program.mutate(fixer(None));
    match program {
        Program::Script(s) => s.body,
        Program::Module(m) => m.body.into_iter().filter_map(|item| item.stmt()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse;
    use std::path::Path;
    use swc_core::common::{FileName, GLOBALS, Globals, SourceMap, sync::Lrc};
    use swc_core::ecma::ast::Script;

    fn transform(name: &str, text: &str) -> String {
        GLOBALS.set(&Globals::new(), || {
            let cm = Lrc::new(SourceMap::default());
            let fm = cm.new_source_file(Lrc::new(FileName::Custom(name.into())), text.to_owned());
            let lang = Lang::of(Path::new(name));
            let mut p = parse(&cm, &fm, lang, name).unwrap();
            let marks = prepare(&mut p, lang);
            let body = finish(p, &marks);
            let script = Program::Script(Script {
                body,
                ..Default::default()
            });
            crate::emit::print_for_tests(&cm, &script)
        })
    }

    #[test]
    fn strips_types_and_type_only_imports() {
        let out = transform(
            "a.ts",
            "import type { T } from './types';\nimport { U } from './u';\nimport { v } from './v';\n\
             enum E { A = 1 }\nexport function f(x: T, y: U): number { return v + E.A; }",
        );
        assert!(!out.contains("./types") && !out.contains("./u\""), "{out}");
        assert!(out.contains("require(\"./v\")"), "{out}");
        assert!(out.contains("E[E[\"A\"] = 1]"), "{out}");
        assert!(!out.contains(": number"), "{out}");
    }

    #[test]
    fn esm_becomes_live_commonjs() {
        let out = transform(
            "a.js",
            "import def, { named } from 'x';\nexport let counter = 0;\nexport function bump() { counter++; return def(named); }\nexport default 42;",
        );
        // Exports are getters (live), imports are reads from the required module.
        assert!(
            out.contains("get bump ()") && out.contains("get counter ()"),
            "{out}"
        );
        assert!(out.contains("(0, _x.default)(_x.named)"), "{out}");
        assert!(!out.contains("_interop_require"), "{out}");
        assert!(!out.contains("import "), "{out}");
    }

    #[test]
    fn decorators_are_applied() {
        let out = transform(
            "d.ts",
            "function log(t: any) { t.logged = true; }\n@log class A {}\nexport default A;",
        );
        assert!(out.contains("_ts_decorate"), "{out}");
        assert!(!out.contains("@log"), "{out}");
    }
}
