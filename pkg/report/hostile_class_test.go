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

// hostileMarkup is what a live system could put in a name to make a pull
// request comment link, mention, embed or shout.
const hostileMarkup = "[x](http://evil.example/) @org/team ![img](http://evil.example/i.png) <img src=x> **bold** a|b ``` \xff\xfe"

// hostileBaseReport is hostileReport as a check against a base revision:
// hostile names in every new place (the base ref, the config change,
// changed_by's manager, subresource and time, a class that is not one).
func hostileBaseReport() drift.Report {
	r := hostileReport()
	r.Base = &drift.Base{Ref: "main" + hostileMarkup + "\x1b]52;c;ZXZpbA==\x07", Revision: "def"}
	r.Config = &drift.Finding{Object: "driftd.yaml" + hostileMarkup, Change: drift.ChangeChanged, Class: drift.ClassIntroduced,
		Diff: "+a\n+````\n```\n</details><img src=x>\n"}
	ts := r.Layers[0].Targets
	t, other := &ts[0], &ts[1]
	if len(t.Findings) == 0 {
		t, other = other, t
	}
	t.Findings[0].Class = drift.ClassCollision
	t.Findings[0].Details = map[string]any{"changed_by": []any{map[string]any{
		"manager": hostileMarkup + "\x1b[2K\r", "subresource": "<script>", "time": "**now** @here"}}}
	t.Findings = append(t.Findings, drift.Finding{Object: hostileMarkup, Change: drift.Change(hostileMarkup), Class: drift.Class(hostileMarkup), Diff: "+x\n"})
	other.Error = hostileMarkup
	r.Notices = []string{"ignore rule " + hostileMarkup + " expired"}
	r.Normalize()
	return r
}

// TestMarkdownByClassParsedAsGFM is TestMarkdownParsedAsGFM for the
// sections of a check against a base: what a GFM parser makes of hostile
// names in the heading, the class lines, the list of what could not be
// checked, the table, the config change and changed_by.
func TestMarkdownByClassParsedAsGFM(t *testing.T) {
	rep := hostileBaseReport()
	var out bytes.Buffer
	if err := WriteMarkdown(&out, rep); err != nil {
		t.Fatal(err)
	}
	src := out.Bytes()
	doc := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser().Parse(text.NewReader(src))
	ownEmphasis := map[string]bool{"The repository could not be synced.": true, "Could not be checked": true}
	for _, c := range drift.Classes() {
		ownEmphasis[c.Title()] = true
	}
	var rows [][]string
	var fences []string
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n.Kind() {
		case ast.KindLink, ast.KindImage, ast.KindAutoLink, ast.KindRawHTML:
			t.Errorf("hostile input made a %s: %q", n.Kind(), nodeText(n, src))
		case ast.KindEmphasis:
			if s := nodeText(n, src); !ownEmphasis[s] {
				t.Errorf("hostile input made emphasis: %q", s)
			}
		case ast.KindCodeSpan:
			return ast.WalkSkipChildren, nil
		case ast.KindFencedCodeBlock:
			fences = append(fences, linesText(n, src))
			return ast.WalkSkipChildren, nil
		case ast.KindHTMLBlock:
			h := linesText(n, src)
			h = strings.NewReplacer(MarkdownMarker, "", "<details>", "", "</details>", "", "<summary>", "", "</summary>", "", "<code>", "", "</code>", "").Replace(h)
			if strings.ContainsAny(h, "<>@") {
				t.Errorf("HTML block holds unescaped markup: %q", linesText(n, src))
			}
			return ast.WalkSkipChildren, nil
		case east.KindTableRow:
			var row []string
			for c := n.FirstChild(); c != nil; c = c.NextSibling() {
				row = append(row, nodeText(c, src))
			}
			rows = append(rows, row)
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
	if !bytes.HasPrefix(src, []byte(MarkdownMarker+"\n")) {
		t.Error("the marker is not first")
	}
	// Each name stays whole in its cell, and a pipe adds no column.
	escaped := line(hostileMarkup)
	var whole int
	for _, row := range rows {
		if len(row) != 5 {
			t.Errorf("row with %d cells: %q", len(row), row)
		}
		for _, c := range row {
			if strings.HasSuffix(c, escaped) {
				whole++
			}
		}
	}
	// The config change's object, and the odd finding's class-less
	// object and change.
	if whole < 3 {
		t.Errorf("%d cells hold a whole hostile name, want 3 or more: %q", whole, rows)
	}
	// Three diffs, each one fenced block that its text cannot close.
	if len(fences) != 3 {
		t.Errorf("%d fenced blocks, want 3 (config, collision and odd diffs): %q", len(fences), fences)
	}
	if want := block(rep.Config.Diff); len(fences) == 0 || fences[0] != want {
		t.Errorf("config diff fenced as %q, want %q", fences, want)
	}
	for _, bad := range []string{"\x1b", "\x07", "\r", "\xff"} {
		if bytes.Contains(src, []byte(bad)) {
			t.Errorf("markdown holds %q raw", bad)
		}
	}
}

// linesText is the source text of a block node.
func linesText(n ast.Node, src []byte) string {
	var b strings.Builder
	for i := 0; i < n.Lines().Len(); i++ {
		seg := n.Lines().At(i)
		b.Write(seg.Value(src))
	}
	return b.String()
}

func TestTextByClassEscapesControlSequences(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, hostileBaseReport(), TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e", "\xff"} {
		if strings.Contains(out, bad) {
			t.Errorf("output holds %q raw:\n%q", bad, out)
		}
	}
	for _, want := range []string{`Base main[x]`, `\x1b]52;c;ZXZpbA==\x07 (def)`, `\x1b[2K\x0d through the <script> subresource at **now** @here`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
