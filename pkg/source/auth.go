package source

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/driftd/driftd/pkg/config"
	"github.com/driftd/driftd/pkg/hostkey"
)

// authFor builds the transport auth for url from references in a. Secrets
// are read at every call, so a rotated token or key is picked up without a
// restart, and they never appear in an error.
func authFor(url string, a config.RepoAuth) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return nil, fmt.Errorf("parse repo url: %w", err)
	}
	switch ep.Protocol {
	case "file":
		return nil, nil
	case "ssh":
		return sshAuth(ep, a)
	case "http", "https":
		return tokenAuth(a)
	default:
		return nil, fmt.Errorf("repo url: unsupported protocol %q", ep.Protocol)
	}
}

func tokenAuth(a config.RepoAuth) (transport.AuthMethod, error) {
	var token string
	switch {
	case a.TokenFile != "":
		b, err := os.ReadFile(a.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("read token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	case a.TokenEnv != "":
		token = strings.TrimSpace(os.Getenv(a.TokenEnv))
		if token == "" {
			return nil, fmt.Errorf("token_env: environment variable %s is empty or unset", a.TokenEnv)
		}
	default:
		return nil, nil
	}
	user := a.Username
	if user == "" {
		user = "git"
	}
	return &githttp.BasicAuth{Username: user, Password: token}, nil
}

func sshAuth(ep *transport.Endpoint, a config.RepoAuth) (transport.AuthMethod, error) {
	user := a.Username
	if user == "" {
		user = ep.User
	}
	if user == "" {
		user = "git"
	}
	var files []string
	if a.KnownHostsFile != "" {
		files = []string{a.KnownHostsFile}
	}
	db, err := gitssh.NewKnownHostsDb(files...)
	if err != nil {
		return nil, fmt.Errorf("load known_hosts: %w", err)
	}
	port := ep.Port
	if port == 0 {
		port = 22
	}
	hostPort := net.JoinHostPort(ep.Host, fmt.Sprint(port))
	helper := gitssh.HostKeyCallbackHelper{
		HostKeyCallback:   hostkey.Verify(db.HostKeyCallback(), knownHostsName(files)),
		HostKeyAlgorithms: db.HostKeyAlgorithms(hostPort),
	}
	if a.SSHKeyFile == "" {
		auth, err := gitssh.NewSSHAgentAuth(user)
		if err != nil {
			return nil, fmt.Errorf("ssh auth: no ssh_key_file configured and no agent: %w", err)
		}
		auth.HostKeyCallbackHelper = helper
		return auth, nil
	}
	auth, err := gitssh.NewPublicKeysFromFile(user, a.SSHKeyFile, "")
	if err != nil {
		return nil, fmt.Errorf("load ssh_key_file %s: %w", a.SSHKeyFile, err)
	}
	auth.HostKeyCallbackHelper = helper
	return auth, nil
}

func knownHostsName(files []string) string {
	if len(files) == 0 {
		return "the default known_hosts files"
	}
	return strings.Join(files, ", ")
}

// ErrHostKey is returned, wrapped, when a remote's host key is unknown or
// does not match known_hosts.
var ErrHostKey = hostkey.ErrHostKey
