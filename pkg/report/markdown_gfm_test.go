package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"

	"github.com/driftd/driftd/pkg/drift"
)

// TestMarkdownParsedAsGFM parses the Markdown of a hostile report with a
// GFM parser (tables, autolinks) and checks what a PR comment would show:
// no link, image, autolink, inline HTML or emphasis comes from a name or
// an error; hostile text appears only in code spans, the fenced diff and
// escaped HTML; each name stays whole in its table cell; the diff is one
// fenced block.
func TestMarkdownParsedAsGFM(t *testing.T) {
	rep := hostileReport()
	rep.Layers[0].Targets = append(rep.Layers[0].Targets, drift.TargetResult{
		Name: `back\|slash`, Status: drift.StatusInSync,
	})
	var diff *string
	for i := range rep.Layers[0].Targets {
		if fs := rep.Layers[0].Targets[i].Findings; len(fs) > 0 {
			diff = &fs[0].Diff
		}
	}
	*diff += "+````\n```\n   ````\n</details><img src=x>\n"
	rep.Normalize()
	var out bytes.Buffer
	if err := WriteMarkdown(&out, rep); err != nil {
		t.Fatal(err)
	}
	src := out.Bytes()
	doc := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser().Parse(text.NewReader(src))

	var cells [][]string
	var fences []string
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n.Kind() {
		case ast.KindLink, ast.KindImage, ast.KindAutoLink, ast.KindRawHTML:
			t.Errorf("hostile input made a %s: %q", n.Kind(), nodeText(n, src))
		case ast.KindEmphasis:
			if s := nodeText(n, src); s != "The repository could not be synced." {
				t.Errorf("hostile input made emphasis: %q", s)
			}
		case ast.KindCodeSpan:
			return ast.WalkSkipChildren, nil
		case ast.KindFencedCodeBlock:
			var b strings.Builder
			for i := 0; i < n.Lines().Len(); i++ {
				seg := n.Lines().At(i)
				b.Write(seg.Value(src))
			}
			fences = append(fences, b.String())
			return ast.WalkSkipChildren, nil
		case ast.KindHTMLBlock:
			var b strings.Builder
			for i := 0; i < n.Lines().Len(); i++ {
				seg := n.Lines().At(i)
				b.Write(seg.Value(src))
			}
			// Our own <details><summary><code>: everything in it escaped.
			h := strings.NewReplacer("<details>", "", "</details>", "", "<summary>", "", "</summary>", "", "<code>", "", "</code>", "").Replace(b.String())
			if strings.ContainsAny(h, "<>@") {
				t.Errorf("HTML block holds unescaped markup: %q", b.String())
			}
			return ast.WalkSkipChildren, nil
		case east.KindTableRow:
			var row []string
			for c := n.FirstChild(); c != nil; c = c.NextSibling() {
				row = append(row, nodeText(c, src))
			}
			cells = append(cells, row)
		case ast.KindText:
			if s := string(n.(*ast.Text).Value(src)); strings.ContainsAny(s, "@<[!`\x1b") || strings.Contains(s, "evil") {
				t.Errorf("hostile text outside a code span: %q", s)
			}
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		t.Fatal(err)
	}

	wantNames := map[string]bool{
		"[x](http://evil.example/) @org/team ![img](http://evil.example/i.png) <img src=x> **bold** a|b ``` \\xff\\xfe": false,
		`node\x1b]52;c;ZXZpbA==\x07`: false,
		`back\|slash`:                false,
	}
	for _, row := range cells {
		if len(row) != 5 {
			t.Errorf("row with %d cells: %q", len(row), row)
			continue
		}
		if _, ok := wantNames[row[1]]; ok {
			wantNames[row[1]] = true
		}
	}
	for name, found := range wantNames {
		if !found {
			t.Errorf("no table cell holds the whole name %q; rows: %q", name, cells)
		}
	}
	if len(fences) != 1 {
		t.Fatalf("%d fenced blocks, want 1 (the diff): %q", len(fences), fences)
	}
	if want := block(*diff); fences[0] != want {
		t.Errorf("fenced diff\n got %q\nwant %q", fences[0], want)
	}
}

// nodeText returns the text a node shows, code spans included.
func nodeText(n ast.Node, src []byte) string {
	var b strings.Builder
	ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			if tn, ok := c.(*ast.Text); ok {
				b.Write(tn.Value(src))
			}
			if sn, ok := c.(*ast.String); ok {
				b.Write(sn.Value)
			}
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}
