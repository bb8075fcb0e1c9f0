package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/driftd/driftd/pkg/hostkey"
)

// SSHClient fetches from nodes over SSH. Host keys are always verified
// against known_hosts: there is no way to turn that off.
type SSHClient struct {
	auth      []ssh.AuthMethod
	hosts     *knownhosts.HostKeyDB
	hostsFile string
	user      string
}

// NewSSHClient loads the key (or connects to the agent) and known_hosts.
func NewSSHClient(keyFile string, useAgent bool, knownHostsFile, user string) (*SSHClient, error) {
	c := &SSHClient{user: user, hostsFile: knownHostsFile}
	if c.user == "" {
		c.user = "root"
	}
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("read ssh key_file: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("parse ssh key_file %s: %w", keyFile, err)
		}
		c.auth = append(c.auth, ssh.PublicKeys(signer))
	}
	if useAgent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, errors.New("ssh use_agent: SSH_AUTH_SOCK is not set")
		}
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, fmt.Errorf("ssh agent: %w", err)
		}
		c.auth = append(c.auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	if len(c.auth) == 0 {
		return nil, errors.New("ssh: set key_file or use_agent")
	}
	if c.hostsFile == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("ssh known_hosts: %w", err)
		}
		c.hostsFile = home + "/.ssh/known_hosts"
	}
	db, err := knownhosts.NewDB(c.hostsFile)
	if err != nil {
		return nil, fmt.Errorf("load known_hosts: %w", err)
	}
	c.hosts = db
	return c, nil
}

func (c *SSHClient) config(e Endpoint) *ssh.ClientConfig {
	user := e.User
	if user == "" {
		user = c.user
	}
	addr := hostPort(e)
	return &ssh.ClientConfig{
		User:              user,
		Auth:              c.auth,
		HostKeyCallback:   hostkey.Verify(c.hosts.HostKeyCallback(), c.hostsFile),
		HostKeyAlgorithms: c.hosts.HostKeyAlgorithms(addr),
	}
}

// ErrHostKey is returned, wrapped, when a node's or jump host's key is not
// the one in known_hosts.
var ErrHostKey = hostkey.ErrHostKey

// maxStderr bounds what is kept of a node's stderr, for error messages.
const maxStderr = 16 << 10

// Run connects to h (through jump, if set), runs cmd in one session, and
// hands its stdout to read as it streams in; read must bound what it keeps.
// It is one TCP connection and one SSH session to the node. ctx bounds
// everything, the dial included: when it ends, the connection is closed,
// which ends a read of a stream that never ends. At most maxStderr bytes of
// stderr are kept.
func (c *SSHClient) Run(ctx context.Context, h Endpoint, jump *Endpoint, cmd string, read func(io.Reader) error) error {
	client, closeAll, err := c.connect(ctx, h, jump)
	if err != nil {
		return err
	}
	defer closeAll()

	sess, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	defer sess.Close()
	stderr := &boundedBuffer{max: maxStderr}
	sess.Stderr = stderr
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	if err := sess.Start(cmd); err != nil {
		return fmt.Errorf("start fetch command: %w", err)
	}
	if err := read(stdout); err != nil {
		// Stop the node's side at once rather than wait for it.
		client.Close()
		if ctx.Err() != nil {
			return fmt.Errorf("%w (while reading: %w)", ctx.Err(), err)
		}
		return err
	}
	if err := sess.Wait(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("run fetch command: %w: %s", err, Escape(truncate(stderr.String(), 300)))
	}
	return nil
}

// boundedBuffer keeps the first max bytes written to it and drops the rest.
type boundedBuffer struct {
	bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// connect opens one SSH connection to h (through jump, if set). ctx bounds
// everything, the dial included: when it ends, the connection is closed.
// closeAll closes it, and the jump host's.
func (c *SSHClient) connect(ctx context.Context, h Endpoint, jump *Endpoint) (client *ssh.Client, closeAll func(), err error) {
	var (
		conn net.Conn
		jc   *ssh.Client
	)
	if jump != nil {
		jc, err = c.dial(ctx, *jump, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("jump host %s: %w", hostPort(*jump), err)
		}
		conn, err = jc.DialContext(ctx, "tcp", hostPort(h))
		if err != nil {
			jc.Close()
			return nil, nil, fmt.Errorf("dial %s through jump host %s: %w", hostPort(h), hostPort(*jump), err)
		}
	}
	client, err = c.dial(ctx, h, conn)
	if err != nil {
		if jc != nil {
			jc.Close()
		}
		return nil, nil, err
	}
	closeBoth := func() {
		client.Close()
		if jc != nil {
			jc.Close()
		}
	}
	stop := context.AfterFunc(ctx, closeBoth)
	return client, func() { stop(); closeBoth() }, nil
}

// dial opens an SSH client to e, over conn if given.
func (c *SSHClient) dial(ctx context.Context, e Endpoint, conn net.Conn) (*ssh.Client, error) {
	addr := hostPort(e)
	if conn == nil {
		var d net.Dialer
		var err error
		conn, err = d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("dial: %w", err)
		}
	}
	// The handshake honours ctx: closing the connection aborts it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, c.config(e))
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("ssh handshake: %w", err)
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

func hostPort(e Endpoint) string {
	port := e.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(e.Address, strconv.Itoa(port))
}
