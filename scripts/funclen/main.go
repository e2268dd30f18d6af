// Command funclen lists the longest functions in drill's Go code, outside
// generated files and tests, and fails when one is longer than the limit.
//
//	go run ./scripts/funclen [-max 80] [-top 10] [dir]
//
// A function's length is the number of lines from its func keyword to its
// closing brace, as gofmt lays it out. Function literals count toward the
// function that holds them.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type fn struct {
	name  string
	pos   string
	lines int
}

func main() {
	limit := flag.Int("max", 80, "fail when a function is longer than this many lines (0: never fail)")
	top := flag.Int("top", 10, "list this many of the longest functions")
	flag.Parse()
	root := "."
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	fns, err := collect(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "funclen:", err)
		os.Exit(2)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].lines > fns[j].lines })
	for i, f := range fns {
		if i >= *top && (*limit == 0 || f.lines <= *limit) {
			break
		}
		fmt.Printf("%4d  %s  %s\n", f.lines, f.name, f.pos)
	}
	over := 0
	for _, f := range fns {
		if *limit > 0 && f.lines > *limit {
			over++
		}
	}
	fmt.Printf("%d functions; %d over %d lines\n", len(fns), over, *limit)
	if over > 0 {
		os.Exit(1)
	}
}

// collect parses every non-test, non-generated Go file under root, skipping
// the tools module and hidden or testdata folders.
func collect(root string) ([]fn, error) {
	var fns []fn
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "tools" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		for _, decl := range f.Decls {
			d, ok := decl.(*ast.FuncDecl)
			if !ok || d.Body == nil {
				continue
			}
			start, end := fset.Position(d.Pos()), fset.Position(d.End())
			fns = append(fns, fn{name: funcName(d), pos: fmt.Sprintf("%s:%d", path, start.Line), lines: end.Line - start.Line + 1})
		}
		return nil
	})
	return fns, err
}

// funcName is Recv.Name for methods and Name for functions.
func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	t := d.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if g, ok := t.(*ast.IndexExpr); ok {
		t = g.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + d.Name.Name
	}
	return d.Name.Name
}
