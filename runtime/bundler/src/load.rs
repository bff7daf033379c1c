//! Loading: reading a module's text into the shared `SourceMap` and parsing it with swc as
//! JavaScript, TypeScript or JSON. A JSON file becomes `module.exports = <value>`. Parse errors
//! become [`BundleError`]s with the file, line, column and a caret.

use crate::errors::{BundleError, ErrorKind, Location};
use std::path::Path;
use swc_core::common::{DUMMY_SP, FileName, SourceFile, SourceMap, Spanned, sync::Lrc};
use swc_core::ecma::ast::{AssignExpr, AssignOp, Expr, ExprStmt, Ident, Program, Script, Stmt};
use swc_core::ecma::parser::{EsSyntax, Parser, StringInput, Syntax, TsSyntax};

/// The language of a module, from its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Js,
    Ts,
    Tsx,
    Json,
}

impl Lang {
    pub fn of(path: &Path) -> Lang {
        match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
            "ts" | "mts" | "cts" => Lang::Ts,
            "tsx" => Lang::Tsx,
            "json" => Lang::Json,
            _ => Lang::Js,
        }
    }

    pub fn is_ts(self) -> bool {
        matches!(self, Lang::Ts | Lang::Tsx)
    }
}

/// Reads `path` into `cm`.
pub fn read(cm: &SourceMap, path: &Path, display: &str) -> Result<Lrc<SourceFile>, BundleError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        BundleError::new(
            ErrorKind::Io,
            format!("{display}: cannot read the file: {e}"),
        )
    })?;
    Ok(cm.new_source_file(Lrc::new(FileName::Real(path.to_path_buf())), text))
}

/// Parses `fm`. JavaScript files with `import`/`export` come back as [`Program::Module`], the
/// others (CommonJS, classic scripts) as [`Program::Script`]; TypeScript is always a module.
pub fn parse(
    cm: &SourceMap,
    fm: &SourceFile,
    lang: Lang,
    display: &str,
) -> Result<Program, BundleError> {
    let syntax = match lang {
        Lang::Js | Lang::Json => Syntax::Es(EsSyntax {
            jsx: false,
            decorators: true,
            ..Default::default()
        }),
        Lang::Ts | Lang::Tsx => Syntax::Typescript(TsSyntax {
            tsx: lang == Lang::Tsx,
            decorators: true,
            ..Default::default()
        }),
    };
    let mut parser = Parser::new(syntax, StringInput::from(fm), None);
    let syntax_error = |e: swc_core::ecma::parser::error::Error| {
        BundleError::new(
            ErrorKind::Syntax,
            format!("SyntaxError: {}", e.kind().msg()),
        )
        .at(Location::of_span(cm, e.span(), display))
    };
    let program = if lang == Lang::Json {
        // JSON, not JavaScript: checked as JSON, and read by `JSON.parse` (so that `__proto__`
        // is an ordinary key and nothing in the file runs).
        let text: &str = &fm.src;
        if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
            let line_text = text.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
            return Err(BundleError::new(
                ErrorKind::Syntax,
                format!("SyntaxError: invalid JSON: {e}"),
            )
            .at(Location {
                file: display.to_owned(),
                line: e.line(),
                col: e.column(),
                line_text: line_text.to_owned(),
            }));
        }
        let span = swc_core::common::Span::new(fm.start_pos, fm.end_pos);
        let value = Box::new(Expr::Call(swc_core::ecma::ast::CallExpr {
            span,
            callee: swc_core::ecma::ast::Callee::Expr(Box::new(Expr::Member(
                swc_core::ecma::ast::MemberExpr {
                    span: DUMMY_SP,
                    obj: Box::new(Expr::Ident(Ident::new_no_ctxt("JSON".into(), DUMMY_SP))),
                    prop: swc_core::ecma::ast::MemberProp::Ident("parse".into()),
                },
            ))),
            args: vec![swc_core::ecma::ast::ExprOrSpread {
                spread: None,
                expr: Box::new(Expr::Lit(swc_core::ecma::ast::Lit::Str(
                    swc_core::ecma::ast::Str {
                        span: DUMMY_SP,
                        value: text.into(),
                        raw: None,
                    },
                ))),
            }],
            ..Default::default()
        }));
        Program::Script(Script {
            span,
            shebang: None,
            body: vec![Stmt::Expr(ExprStmt {
                span,
                expr: Box::new(Expr::Assign(AssignExpr {
                    span,
                    op: AssignOp::Assign,
                    left: swc_core::ecma::ast::MemberExpr {
                        span: DUMMY_SP,
                        obj: Box::new(Expr::Ident(Ident::new_no_ctxt("module".into(), DUMMY_SP))),
                        prop: swc_core::ecma::ast::MemberProp::Ident("exports".into()),
                    }
                    .into(),
                    right: value,
                })),
            })],
        })
    } else {
        let program = parser.parse_program().map_err(syntax_error)?;
        match program {
            Program::Script(s) if lang.is_ts() => Program::Module(swc_core::ecma::ast::Module {
                span: s.span,
                body: s.body.into_iter().map(Into::into).collect(),
                shebang: s.shebang,
            }),
            p => p,
        }
    };
    if let Some(e) = parser.take_errors().into_iter().next() {
        return Err(syntax_error(e));
    }
    if lang == Lang::Tsx
        && let Some(span) = first_jsx(&program)
    {
        return Err(BundleError::new(
            ErrorKind::Syntax,
            "JSX is not supported by Wisp's bundler yet; compile it to JavaScript first",
        )
        .at(Location::of_span(cm, span, display)));
    }
    Ok(program)
}

/// Where the first JSX element or fragment is, if any.
fn first_jsx(program: &Program) -> Option<swc_core::common::Span> {
    use swc_core::ecma::visit::{Visit, VisitWith};
    struct Find(Option<swc_core::common::Span>);
    impl Visit for Find {
        fn visit_jsx_element(&mut self, n: &swc_core::ecma::ast::JSXElement) {
            self.0.get_or_insert(n.span);
        }
        fn visit_jsx_fragment(&mut self, n: &swc_core::ecma::ast::JSXFragment) {
            self.0.get_or_insert(n.span);
        }
    }
    let mut f = Find(None);
    program.visit_with(&mut f);
    f.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(name: &str, text: &str) -> Result<Program, BundleError> {
        let cm = SourceMap::default();
        let fm = cm.new_source_file(Lrc::new(FileName::Custom(name.into())), text.to_owned());
        parse(&cm, &fm, Lang::of(Path::new(name)), name)
    }

    #[test]
    fn module_or_script_by_syntax() {
        assert!(parse_text("a.js", "export default 1").unwrap().is_module());
        assert!(
            parse_text("a.js", "module.exports = 1")
                .unwrap()
                .is_script()
        );
        assert!(parse_text("a.ts", "let x: number = 1").unwrap().is_module());
        assert!(
            parse_text("a.json", r#"{"a": [1, 2]}"#)
                .unwrap()
                .is_script()
        );
    }

    #[test]
    fn syntax_errors_have_file_line_column_and_caret() {
        let e = parse_text("bad.ts", "const a = 1;\nconst b: = 2;\n").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax);
        let loc = e.location.clone().unwrap();
        assert_eq!((loc.file.as_str(), loc.line, loc.col), ("bad.ts", 2, 10));
        assert!(
            e.to_string().starts_with("bad.ts:2:10: SyntaxError: "),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains(" 2 | const b: = 2;\n   |          ^"),
            "{e}"
        );
        let e = parse_text("view.tsx", "export const v = (n: number) => <b>{n}</b>;").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("view.tsx:1:33: JSX is not supported"),
            "{e}"
        );
        assert!(parse_text("plain.tsx", "export const n: number = 1;").is_ok());
        let e = parse_text("bad.json", "{\"a\": }").unwrap_err();
        assert_eq!(e.location.unwrap().col, 7);
    }
}
