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
//
// In a check against a base revision (r.Base set) the output is made to
// be posted as one pull-request comment, updated in place: it starts with
// the marker <!-- driftd-report --> (MarkdownMarker), by which a CI script
// finds its previous comment; only then, so that the output of a plain
// check is unchanged. A heading line counts the findings of each class;
// one line per class says what it means; the targets that could not be
// checked are listed; one table holds every finding (class, layer,
// target, object, change), the config change (r.Config) first, then each
// finding's diff is folded in a <details> block in the same order, with
// who changed the object live and when where the layer knows. The whole
// comment stays under MarkdownLimit bytes: diffs are left out from the
// end first, then table rows, and a closing note says how many and that
// the full report is in the JSON or text output.
func WriteMarkdown(w io.Writer, r drift.Report) error {
	if r.Base != nil {
		_, err := io.WriteString(w, markdownByClass(r))
		return err
	}
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
					b.WriteString(mdFence(block(f.Diff)))
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

// mdFence renders text as a fenced diff block whose fence is longer than
// any run of backticks in it, so that the text cannot close it.
func mdFence(text string) string {
	fence := "```"
	for strings.Contains(text, fence) {
		fence += "`"
	}
	return fmt.Sprintf("%sdiff\n%s\n%s\n", fence, strings.TrimSuffix(text, "\n"), fence)
}
