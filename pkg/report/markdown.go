package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/driftd/driftd/pkg/drift"
)

var statusIcon = map[drift.Status]string{
	drift.StatusInSync:  "✅ in sync",
	drift.StatusDrifted: "⚠️ drifted",
	drift.StatusUnknown: "❌ unknown",
}

// WriteMarkdown writes the report as GitHub-flavoured Markdown, for a pull
// request comment: a summary table, then each finding's diff folded in a
// <details> block.
func WriteMarkdown(w io.Writer, r drift.Report) error {
	var b strings.Builder
	s := r.Summarize()
	fmt.Fprintf(&b, "### driftd: %s\n\n", statusIcon[r.Status])
	fmt.Fprintf(&b, "Revision `%s`: %d finding(s); %d target(s) drifted, %d could not be checked, %d in sync.\n\n",
		shortRev(r.Revision), s.Findings, s.Drifted, s.Unknown, s.InSync)
	if !r.Source.Synced {
		fmt.Fprintf(&b, "> **The repository could not be synced.** %s\n\n", mdCode(r.Source.Error))
	}
	if len(r.Layers) > 0 {
		b.WriteString("| Layer | Target | Status | Findings | Error |\n|---|---|---|---|---|\n")
		for _, l := range r.Layers {
			if l.Error != "" {
				fmt.Fprintf(&b, "| %s | * | %s | | %s |\n", l.Layer, statusIcon[drift.StatusUnknown], mdCode(firstLine(l.Error)))
			}
			for _, t := range l.Targets {
				fmt.Fprintf(&b, "| %s | %s | %s | %d | %s |\n", l.Layer, mdCode(t.Name), statusIcon[t.Status], len(t.Findings), mdCode(firstLine(t.Error)))
			}
		}
	}
	for _, l := range r.Layers {
		for _, t := range l.Targets {
			for _, f := range t.Findings {
				fmt.Fprintf(&b, "\n<details><summary><code>%s/%s</code>: <code>%s</code> (%s)</summary>\n\n",
					htmlEscape(line(string(l.Layer))), htmlEscape(line(t.Name)), htmlEscape(line(f.Object)), htmlEscape(line(string(f.Change))))
				if f.Diff != "" {
					diff := block(f.Diff)
					fence := "```"
					for strings.Contains(diff, fence) {
						fence += "`"
					}
					fmt.Fprintf(&b, "%sdiff\n%s\n%s\n", fence, strings.TrimSuffix(diff, "\n"), fence)
				}
				b.WriteString("\n</details>\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// htmlEscape escapes text for raw HTML, where Markdown does not apply.
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "@", "&#64;").Replace(s)
}
