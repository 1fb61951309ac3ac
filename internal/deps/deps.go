package deps
import (
 _ "cel.dev/cel-go/cel"
 _ "go.yaml.in/yaml/v3"
 _ "github.com/spf13/cobra"
 _ "modernc.org/sqlite"
 _ "golang.org/x/mod/sumdb/tlog"
 _ "golang.org/x/mod/sumdb/note"
 _ "github.com/rogpeppe/go-internal/testscript"
 _ "gonum.org/v1/gonum/optimize"
 _ "gonum.org/v1/gonum/stat"
 _ "github.com/klauspost/compress/zstd"
 _ "github.com/in-toto/attestation/go/v1"
 _ "github.com/secure-systems-lab/go-securesystemslib/dsse"
 _ "google.golang.org/protobuf/encoding/protojson"
)
