// Package configs holds the files shipped inside the bridge binary: the
// notice templates the LINE channel sends to customers (messages/<lang>.yaml).
//
// The package only exports the raw files; pkg/line parses and validates them.
package configs

import (
	"embed"
	"io/fs"
	"path"
	"strings"
)

// MessageFiles is the embedded messages directory: one YAML file per
// language, named by its language tag (messages/ja.yaml, messages/en.yaml).
//
//go:embed messages/*.yaml
var MessageFiles embed.FS

// Messages returns the raw notice template files keyed by language tag (the
// file name without ".yaml"). The result is a fresh map on every call.
func Messages() map[string][]byte {
	out := make(map[string][]byte)
	entries, err := fs.ReadDir(MessageFiles, "messages")
	if err != nil { // cannot happen: the directory is embedded
		return out
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".yaml" {
			continue
		}
		b, err := fs.ReadFile(MessageFiles, "messages/"+name)
		if err != nil {
			continue
		}
		out[strings.TrimSuffix(name, ".yaml")] = b
	}
	return out
}
