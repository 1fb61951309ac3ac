//go:build linux && !race

package runner

import (
	"syscall"
	"unsafe"
)

// The event loop's system calls on its sockets, its epoll instance and its
// timer cannot block (the descriptors are non-blocking, and its polls do
// not wait), nor can, for long, its writes to a state file on a local file
// system: they are made raw, without telling the scheduler, which would
// otherwise note each one, and wake its monitor thread when it sleeps,
// costing more than the call. (With the race detector, they are ordinary
// system calls, which the detector sees as synchronizing: see
// raw_race_linux.go.)

func rawRead(fd int, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
