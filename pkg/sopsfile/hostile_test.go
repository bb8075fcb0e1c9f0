package sopsfile

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// billionLaughs is the YAML alias bomb: nine levels of nine aliases.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [", i, i)
		for j := range 9 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// nestedBlocks returns YAML nested n mappings deep, in block style.
func nestedBlocks(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i))
		b.WriteString("a:\n")
	}
	b.WriteString(strings.Repeat(" ", n))
	b.WriteString("b: 1\n")
	return b.String()
}

// sopsMetadata returns the sops section of an encrypted YAML file, to put
// under a hostile body.
func sopsMetadata(t *testing.T, enc []byte) string {
	t.Helper()
	i := bytes.Index(enc, []byte("\nsops:\n"))
	if i < 0 {
		t.Fatalf("no sops metadata in\n%s", enc)
	}
	return string(enc[i+1:])
}

// TestHostileInputs checks that inputs built to exhaust memory or time are
// refused quickly, by Decrypt and IsEncrypted alike, with bounded
// allocation.
func TestHostileInputs(t *testing.T) {
	id, keys := newIdentity(t)
	r := id.Recipient().String()
	valid, _ := encryptFile(t, []byte(secretManifest), YAML, oneRecipient(r))
	meta := sopsMetadata(t, valid)
	validJSON, _ := encryptFile(t, []byte(`{"a": "b"}`), JSON, oneRecipient(r))
	jsonMeta := string(validJSON[bytes.Index(validJSON, []byte(`"sops"`)):])

	manyRecipients := strings.Replace(meta, "    age:\n", "    age:\n"+strings.Repeat("        - recipient: "+r+"\n          enc: x\n", maxMasterKeys), 1)
	hugeWrappedKey := strings.Replace(meta, "-----BEGIN AGE ENCRYPTED FILE-----\n",
		"-----BEGIN AGE ENCRYPTED FILE-----\n"+strings.Repeat("                    "+strings.Repeat("A", 64)+"\n", maxWrappedKey/64), 1)
	manyWrappedKeys := strings.Replace(meta, "    age:\n", "    age:\n"+strings.Repeat("        - recipient: "+r+"\n          enc: "+strings.Repeat("A", maxWrappedKey-1)+"\n", maxWrappedKeys/maxWrappedKey), 1)
	withRule := func(rule string) string {
		return strings.Replace(meta, "    unencrypted_suffix: _unencrypted\n", "    "+rule+"\n", 1)
	}
	// distinctKeys returns n distinct "k<i>: v" lines, each after a comment.
	distinctKeys := func(indent string, n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%s# c\n%sk%d: v\n", indent, indent, i)
		}
		return b.String()
	}
	manyComments := strings.Repeat("# c\n", 8000) + "a:\n" + distinctKeys("    ", 8000)
	var longKeys string
	for i := range 1100 {
		longKeys += fmt.Sprintf("? %s%d\n: v\n", strings.Repeat("k", 1000), i)
	}
	// Leaves at depth 4, each costing 4 evaluations of encrypted_regex.
	fluxMeta := withRule("encrypted_regex: ^(data|stringData)$")
	underWorkBound := "a: {b: {c: {d: [" + strings.Repeat("x,", maxWalkWork/regexCost(19)/4*9/10) + "x]}}}\n" + fluxMeta
	longKey := "? " + strings.Repeat("k", 1<<20) + "\n:\n" + distinctKeys("    ", 300)

	tests := []struct {
		name   string
		data   string
		format Format
		opts   []Option
		want   error
	}{
		{name: "over MaxSize", data: string(valid), opts: []Option{MaxSize(100)}, want: ErrTooLarge},
		{name: "over DefaultMaxSize", data: strings.Repeat("# pad\n", DefaultMaxSize/6+1) + string(valid), want: ErrTooLarge},
		{name: "alias bomb", data: billionLaughs() + meta, want: ErrMalformed},
		{name: "alias bomb in a later document", data: string(valid) + "---\n" + billionLaughs(), want: ErrMalformed},
		{name: "merge key", data: "base: &b {x: 1}\nderived:\n  <<: *b\n" + meta, want: ErrMalformed},
		{name: "deep flow nesting", data: "a: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n" + meta, want: ErrTooLarge},
		{name: "flow nesting past maxDepth", data: "a: " + strings.Repeat("[", 2*maxDepth) + strings.Repeat("]", 2*maxDepth) + "\n" + meta, want: ErrTooLarge},
		{name: "block nesting past maxDepth", data: nestedBlocks(2*maxDepth) + meta, want: ErrTooLarge},
		{name: "many keys", data: strings.Repeat("k: v\n", DefaultMaxSize/5-len(meta)) + meta, want: ErrTooLarge},
		{name: "many flow values", data: "a: [" + strings.Repeat("0,", DefaultMaxSize/2-len(meta)) + "0]\n" + meta, want: ErrTooLarge},
		{name: "many implicit nulls", data: "a: [" + strings.Repeat("?,", DefaultMaxSize/4) + "]\n" + meta, want: ErrTooLarge},
		{name: "many values just under the token bound", data: "a: [" + strings.Repeat("x,", maxTokens/2-100) + "x]\n" + meta, want: ErrTampered},
		{name: "duplicate keys", data: strings.Repeat("k: v\n", 5000) + meta, want: ErrMalformed},
		{name: "mapping with too many keys", data: distinctKeys("", maxMappingKeys+1) + meta, want: ErrTooLarge},
		{name: "mapping with long keys", data: longKeys + meta, want: ErrTooLarge},
		{name: "path rule just under the work bound", data: underWorkBound, want: ErrTampered},
		{name: "many age recipients", data: manyRecipients, want: ErrTooLarge},
		{name: "huge wrapped key", data: hugeWrappedKey, want: ErrTooLarge},
		{name: "many large wrapped keys", data: manyWrappedKeys, want: ErrTooLarge},
		{name: "long encrypted_regex", data: withRule("encrypted_regex: " + strings.Repeat("a", maxRuleRegex+1)), want: ErrTooLarge},
		{name: "comment rule over many comments", data: manyComments + withRule("encrypted_comment_regex: c"), want: ErrTooLarge},
		{name: "long key over many leaves", data: longKey + meta, want: ErrTooLarge},
		{name: "json deep nesting", format: JSON, data: `{"a": ` + strings.Repeat("[", 1000000) + strings.Repeat("]", 1000000) + ", " + jsonMeta, want: ErrTooLarge},
		{name: "json nesting past maxDepth", format: JSON, data: `{"a": ` + strings.Repeat("[", 2*maxDepth) + strings.Repeat("]", 2*maxDepth) + ", " + jsonMeta, want: ErrTooLarge},
		{name: "json many keys", format: JSON, data: "{" + strings.Repeat(`"k": 0, `, DefaultMaxSize/8-len(jsonMeta)) + jsonMeta, want: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			format := tt.format
			if format == 0 {
				format = YAML
			}
			var err error
			elapsed, alloc := measure(func() { _, err = keys.Decrypt([]byte(tt.data), format, tt.opts...) })
			t.Logf("%d bytes: %v in %v, %d MiB allocated: %v", len(tt.data), errors.Is(err, tt.want), elapsed, alloc>>20, err)
			if !errors.Is(err, tt.want) {
				t.Errorf("Decrypt error = %v, want %v", err, tt.want)
			}
			if elapsed > timeBound {
				t.Errorf("Decrypt took %v", elapsed)
			}
			if alloc > 256<<20 {
				t.Errorf("Decrypt allocated %d MiB", alloc>>20)
			}
			elapsed, alloc = measure(func() { IsEncrypted([]byte(tt.data)) })
			if elapsed > timeBound {
				t.Errorf("IsEncrypted took %v", elapsed)
			}
			if alloc > 256<<20 {
				t.Errorf("IsEncrypted allocated %d MiB", alloc>>20)
			}
		})
	}
}

// timeBound is how long a hostile input may keep Decrypt or IsEncrypted
// busy: the slowest take a few hundred milliseconds.
const timeBound = 2 * time.Second * slowdown

// measure returns how long fn takes and how much it allocates.
func measure(fn func()) (time.Duration, uint64) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	fn()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return elapsed, after.TotalAlloc - before.TotalAlloc
}
