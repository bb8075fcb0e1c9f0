package sopsfile

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// nodeCount counts the nodes of docs, the way a parser allocates them:
// aliases are not followed.
func nodeCount(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += nodeCount(k)
	}
	return c
}

// checkTokenBound checks countTokens' promise: at most three nodes per
// token, plus one document node per document.
func checkTokenBound(t *testing.T, in string) {
	t.Helper()
	docs, err := yamlDocs([]byte(in))
	if err != nil {
		return
	}
	nodes := 0
	for _, d := range docs {
		nodes += nodeCount(d)
	}
	tokens := countTokens([]byte(in), len(in)+1)
	if nodes > 3*tokens+len(docs) {
		t.Errorf("countTokens(%q) = %d for %d nodes in %d documents", in, tokens, nodes, len(docs))
	}
}

var tokenSamples = []string{
	"a: 1\n",
	"[0,0,0,0]",
	"[?,?,?,?]",
	"[:,:,:,:]",
	"[a: b, c: d]",
	"{a, b, c}",
	"{a: , b: }",
	"- \n- \n- \n",
	"-\n-\n-\n",
	"- - - -\n",
	"? \n? \n",
	"a:\nb:\nc:\n",
	"{\"a\":1,\"b\":[1,2,{\"c\":null}]}",
	"a: \"x, y: [z]\"\nb: 'it''s'\n",
	"a: |\n  '\nb: [0,0,0,0,0]\n",
	"a: |\n  \"\nb: [0,0,0,0,0]\n",
	"- k: |\n    text\n  other: [0,\n    0, 0, 0]\n",
	"a: >\n  # not a comment\n  [\nb: [0,0]\n",
	"a: 1 # [0,0,0,0]\nb: [0,0,0]\n",
	"x: &a [1, 2]\ny: *a\n",
	"--- \n--- \n--- \n",
	"a: 0\u20280\u20280\n",
	"- 0\u2028- 0\u2028- 0\n",
	"a:\u0085- 0\u0085- 0\n",
	"a: !!str 1\nb: !!binary aGk=\n",
	"ENC[AES256_GCM,data:eA==,iv:aXY=,tag:dGFn,type:str]",
	"[ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]]",
	"{a:b,c:d}",
	"{\"a\":b,\"c\":d}",
	"[[[[[]]]]]",
	"[{},{},{},[],[]]",
	"\t[0,\t0,\t0]",
}

func TestCountTokensBound(t *testing.T) {
	for _, in := range tokenSamples {
		checkTokenBound(t, in)
	}
}

func FuzzCountTokens(f *testing.F) {
	for _, in := range tokenSamples {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) > 4096 {
			return
		}
		checkTokenBound(t, in)
	})
}

func TestCountTokensLimit(t *testing.T) {
	in := []byte(strings.Repeat("a ", 100))
	if got := countTokens(in, 1000); got != 100 {
		t.Errorf("countTokens = %d, want 100", got)
	}
	if got := countTokens(in, 10); got != 11 {
		t.Errorf("countTokens stopping at 10 = %d, want 11", got)
	}
}

func TestJSONDepth(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{`{}`, 1},
		{`{"a": [1, {"b": []}]}`, 4},
		{`{"a": "[[[[{{{{"}`, 1},
		{`{"a\"[[": "\\"}`, 1},
		{`]]]]{`, 1},
	}
	for _, tt := range tests {
		if got := jsonDepth([]byte(tt.in), 100); got != tt.want {
			t.Errorf("jsonDepth(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
