package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// docFiles are the documents whose snippets the doc tests run: README.md
// and docs/*.md.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	return append([]string{filepath.Join("..", "..", "README.md")}, files...)
}

// fencedBlocks returns the bodies of the fenced code blocks of language
// lang (```lang) in docFiles, each with its place (file:line of the fence).
func fencedBlocks(t *testing.T, lang string) []docSnippet {
	t.Helper()
	fence := regexp.MustCompile("(?ms)^```" + regexp.QuoteMeta(lang) + "\n(.*?)^```")
	var out []docSnippet
	for _, f := range docFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fence.FindAllSubmatchIndex(b, -1) {
			line := bytes.Count(b[:m[0]], []byte("\n")) + 1
			out = append(out, docSnippet{where: filepath.Base(f) + ":" + strconv.Itoa(line), text: string(b[m[2]:m[3]])})
		}
	}
	return out
}
