//! Emitting the bundle: one ES module holding a registry of module functions, Wisp's small
//! loader (`__wisp_require`), imports of the engine modules used, and the entry's `default` and
//! `handleRequest` exports (what the engine's dispatcher looks for). The whole program is printed
//! in one swc codegen pass, which also records the mappings for the source map.

use crate::graph::Graph;
use std::path::{Path, PathBuf};
use swc_core::common::{BytePos, DUMMY_SP, FileName, LineCol, SourceMap, sync::Lrc};
use swc_core::ecma::ast::{
    ArrayLit, BindingIdent, EsVersion, Expr, ExprOrSpread, FnExpr, Function, FunctionBody, Ident,
    Param, Pat, Program,
};
use swc_core::ecma::codegen::{Config, Emitter, text_writer::JsWriter};
use swc_core::ecma::parser::{EsSyntax, Parser, StringInput, Syntax};
use swc_core::ecma::visit::{VisitMut, VisitMutWith};

/// The loader, shared by all modules (`global` is for CommonJS packages written for Node.js). `__WISP_IMPORTS__`/`__WISP_EXTERNALS__` are filled in as
/// text; `__WISP_DEFS__` is replaced by the array of module functions in the AST.
const RUNTIME: &str = r#"__WISP_IMPORTS__
const __wisp_ext = { __proto__: null, __WISP_EXTERNALS__ };
const global = globalThis;
const __wisp_defs = __WISP_DEFS__;
const __wisp_cache = [];
function __wisp_require(id) {
  const cached = __wisp_cache[id];
  if (cached !== undefined) return cached.exports;
  const define = __wisp_defs[id];
  if (define === undefined) {
    if (id in __wisp_ext) return __wisp_ext[id];
    throw new Error("Cannot find module '" + id + "': it is not in the bundle (only import and require() of string literals are bundled)");
  }
  const module = { exports: {}, id };
  // ES modules are the functions that take `__wisp_import` (a fourth parameter).
  if (define.length === 4) Object.defineProperty(module.exports, "__esModule", { value: true });
  __wisp_cache[id] = module;
  define.call(module.exports, module, module.exports, __wisp_require, __wisp_import);
  return module.exports;
}
function __wisp_import(id) {
  const e = __wisp_require(id);
  if (e != null && e.__esModule) return e;
  // CommonJS seen from an ES module: `default` is module.exports, names read through to it,
  // and its own names are the namespace's own too (what `export * from` copies).
  if (typeof e !== "object" && typeof e !== "function" || e === null) return { default: e };
  const ns = { __proto__: e, default: e };
  for (const k of Object.keys(e)) {
    if (k !== "default") Object.defineProperty(ns, k, { get: () => e[k], enumerable: true });
  }
  return ns;
}
const __wisp_entry = __wisp_require("0");
export default __wisp_entry != null && __wisp_entry.__esModule ? __wisp_entry.default : __wisp_entry;
export const handleRequest = __wisp_entry == null ? undefined : __wisp_entry.handleRequest;
"#;

pub struct Output {
    pub code: String,
    pub map: swc_sourcemap::SourceMap,
}

/// How sources are named in the map: relative to `root`, with their text inlined.
struct MapConfig {
    root: PathBuf,
    sources_content: bool,
}

impl swc_core::common::source_map::SourceMapGenConfig for MapConfig {
    fn file_name_to_source(&self, f: &FileName) -> String {
        match f {
            FileName::Real(p) => p
                .strip_prefix(&self.root)
                .unwrap_or(p)
                .display()
                .to_string(),
            other => other.to_string(),
        }
    }

    fn inline_sources_content(&self, f: &FileName) -> bool {
        self.sources_content && !matches!(f, FileName::Internal(_))
    }
}

/// The registry function of one module: `(module, exports, require)` for CommonJS; an ES
/// module's `require` is the loader's fourth argument, `__wisp_import`.
fn module_function(body: Vec<swc_core::ecma::ast::Stmt>, is_esm: bool) -> Expr {
    let param = |name: &str| Param {
        span: DUMMY_SP,
        decorators: Vec::new(),
        pat: Pat::Ident(BindingIdent {
            id: Ident::new_no_ctxt(name.into(), DUMMY_SP),
            type_ann: None,
        }),
    };
    Expr::Fn(FnExpr {
        ident: None,
        function: Box::new(Function {
            params: if is_esm {
                vec![
                    param("module"),
                    param("exports"),
                    param("__wisp_require"),
                    param("require"),
                ]
            } else {
                vec![param("module"), param("exports"), param("require")]
            },
            body: Some(FunctionBody {
                span: DUMMY_SP,
                stmts: body,
            }),
            ..Default::default()
        }),
    })
}

struct FillDefs(Option<ArrayLit>);

impl VisitMut for FillDefs {
    fn visit_mut_expr(&mut self, e: &mut Expr) {
        if let Expr::Ident(i) = e
            && i.sym == "__WISP_DEFS__"
            && let Some(arr) = self.0.take()
        {
            *e = Expr::Array(arr);
            return;
        }
        e.visit_mut_children_with(self);
    }
}

fn js_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Prints `graph` as one ES module with its source map (sources relative to `root`).
pub fn emit(
    cm: &Lrc<SourceMap>,
    graph: Graph,
    root: &Path,
    minify: bool,
    sources_content: bool,
) -> Result<Output, std::io::Error> {
    let mut imports = String::new();
    let mut externals = String::new();
    for (i, name) in graph.externals.iter().enumerate() {
        imports.push_str(&format!(
            "import * as __wisp_x{i} from {};\n",
            js_string(name)
        ));
        externals.push_str(&format!(
            "{}: {{ __proto__: null, __esModule: true, ...__wisp_x{i} }}, ",
            js_string(name)
        ));
    }
    let text = RUNTIME
        .replace("__WISP_IMPORTS__", &imports)
        .replace("__WISP_EXTERNALS__", &externals);
    let fm = cm.new_source_file(Lrc::new(FileName::Internal("wisp-runtime".into())), text);
    let mut parser = Parser::new(
        Syntax::Es(EsSyntax::default()),
        StringInput::from(&*fm),
        None,
    );
    let mut module = parser
        .parse_module()
        .map_err(|e| std::io::Error::other(format!("wisp runtime: {:?}", e.kind())))?;
    let defs = ArrayLit {
        span: DUMMY_SP,
        elems: graph
            .modules
            .into_iter()
            .map(|m| {
                Some(ExprOrSpread {
                    spread: None,
                    expr: Box::new(module_function(m.body, m.is_esm)),
                })
            })
            .collect(),
    };
    module.visit_mut_with(&mut FillDefs(Some(defs)));
    let program = Program::Module(module);
    let (code, mappings) = print(cm, &program, minify)?;
    let map = cm.build_source_map(
        &mappings,
        None,
        MapConfig {
            root: root.to_path_buf(),
            sources_content,
        },
    );
    Ok(Output { code, map })
}

fn print(
    cm: &Lrc<SourceMap>,
    program: &Program,
    minify: bool,
) -> Result<(String, Vec<(BytePos, LineCol)>), std::io::Error> {
    let mut buf = Vec::new();
    let mut mappings = Vec::new();
    {
        let mut emitter = Emitter {
            cfg: Config::default()
                .with_minify(minify)
                .with_target(EsVersion::latest()),
            cm: cm.clone(),
            comments: None,
            wr: JsWriter::new(cm.clone(), "\n", &mut buf, Some(&mut mappings)),
        };
        emitter.emit_program(program)?;
    }
    let code = String::from_utf8(buf).map_err(std::io::Error::other)?;
    Ok((code, mappings))
}

/// Prints a program without a map (tests of the other stages).
#[cfg(test)]
pub fn print_for_tests(cm: &Lrc<SourceMap>, program: &Program) -> String {
    print(cm, program, false).unwrap().0
}

#[cfg(test)]
mod tests {
    use crate::{Options, bundle};

    #[test]
    fn one_module_with_registry_externals_exports_and_map() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::write(
            root.join("index.ts"),
            "import { open } from 'wasmedge-sqlite';\nimport c from './c.cjs';\nexport default { fetch: () => new Response(String(c + typeof open)) };\n",
        )
        .unwrap();
        std::fs::write(root.join("c.cjs"), "module.exports = 41 + 1;\n").unwrap();
        let b = bundle(root, &Options::default()).unwrap();
        let code = &b.code;
        assert!(
            code.starts_with("import * as __wisp_x0 from \"wasmedge-sqlite\";"),
            "{code}"
        );
        assert!(
            code.contains("function(module, exports, __wisp_require, require) {"),
            "ESM entry: {code}"
        );
        assert!(
            code.contains("function(module, exports, require) {"),
            "CommonJS module: {code}"
        );
        assert!(code.contains("export default __wisp_entry"), "{code}");
        assert_eq!(b.filename, "index.bundle.js");
        let map = b.map.as_ref().unwrap();
        // The line of `module.exports = 41 + 1` maps back to c.cjs line 1.
        let line = code.lines().position(|l| l.contains("41 + 1")).unwrap() + 1;
        let o = map.original(line, 1).unwrap();
        assert_eq!((o.file.as_str(), o.line), ("c.cjs", 1));
        assert_eq!(o.line_text.as_deref(), Some("module.exports = 41 + 1;"));
        let min = bundle(
            root,
            &Options {
                minify: true,
                ..Options::default()
            },
        )
        .unwrap();
        assert!(min.code.len() < code.len());
    }
}
