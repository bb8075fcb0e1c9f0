package manifest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	dup := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: one}\ndata: {k: two}\n"
	if _, err := Decode([]byte(dup), true); err == nil {
		t.Error("strict: a duplicate key is accepted")
	}
	objs, err := Decode([]byte(dup), false)
	if err != nil || len(objs) != 1 || objs[0].Object["data"].(map[string]any)["k"] != "two" {
		t.Errorf("lenient: %v %v, want the last key to win", objs, err)
	}
	for doc, want := range map[string]string{
		"":                                  "",
		"# only a comment\n":                "",
		"null\n":                            "",
		"- a\n":                             "not an object",
		"apiVersion: v1\nkind: ConfigMap\n": "metadata.name is required",
	} {
		objs, err := Decode([]byte(doc), true)
		if want == "" && (err != nil || len(objs) != 0) || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v %v, want %q", doc, objs, err, want)
		}
	}
	list := "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n"
	if objs, err := Decode([]byte(list), true); err != nil || len(objs) != 2 {
		t.Errorf("a List: %v %v", objs, err)
	}
}

func TestCheckAliases(t *testing.T) {
	bomb := "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i <= 9; i++ {
		bomb += fmt.Sprintf("a%d: &a%d [*a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d]\n", i, i, i-1)
	}
	if err := CheckAliases([]byte(bomb)); !errors.Is(err, ErrAliasBomb) {
		t.Errorf("billion laughs: %v", err)
	}
	if err := CheckAliases([]byte("base: &b {a: 1}\nx: {<<: *b, c: 2}\n")); err != nil {
		t.Errorf("a merge key: %v", err)
	}
}
