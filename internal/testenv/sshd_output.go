package testenv

import (
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// OutputOnNode is OnNode returning what the command printed: the way to read
// a node's files in a test (node i's /etc is an overlay, so a file a session
// wrote is not in EtcDir), without opening an SSH session.
func (s *SSHD) OutputOnNode(i int, args ...string) ([]byte, error) {
	pid, err := s.pid(i)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(pid), "-m", "--"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("on node%d: %s: %w\n%s", i+1, strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}
