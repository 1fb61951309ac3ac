//go:build !linux

package main

import "os"

// maxRSS is only implemented on Linux.
func maxRSS(*os.ProcessState) (int64, bool) { return 0, false }
