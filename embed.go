// Package scalegate holds the files that ship inside the binary: the
// encoded policies under policies/ and the demo's evidence under
// examples/demo/. The program itself lives in cmd/scalegate and internal/.
package scalegate

import "embed"

// Files are the policies and example evidence, as in the repository.
//
//go:embed policies/*.yaml examples/demo/*.yaml
var Files embed.FS
