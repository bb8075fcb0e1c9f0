package node

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// lookupID finds the name for id in a passwd- or group-format file, where
// the id is the third field.
func lookupID(host *os.Root, file string, id uint32) (string, bool) {
	f, err := host.Open(file)
	if err != nil {
		return "", false
	}
	defer f.Close()
	want := strconv.FormatUint(uint64(id), 10)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) > 2 && fields[2] == want {
			return fields[0], true
		}
	}
	return "", false
}
