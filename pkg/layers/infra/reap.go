package infra

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// runTagEnv marks every process of one stack run. Terraform hands its
// environment down to its provider plugins, so the tag finds them too.
const runTagEnv = "DRIFTD_RUN_ID"

func newRunTag() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// reap kills every process that carries tag. terraform-exec interrupts and
// then kills terraform when a context ends, but a provider blocked in a call
// outlives it as an orphan; this removes such leftovers. It reads /proc and
// does nothing where there is none.
func reap(tag string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	needle := []byte(runTagEnv + "=" + tag + "\x00")
	self := os.Getpid()
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, needle) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}
