package daemon

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// webhookRetryAfter is what a webhook refused for want of a slot is told
// to wait, in seconds.
const webhookRetryAfter = "10"

// webhook serves POST /hooks/git. A request is refused as early as its
// headers allow, before any body is read: 413 for a declared body over the
// bound, 401 without a valid signature header, 429 when every slot is
// taken. Only then is the body read, streaming through the signature's
// HMAC and never held in memory: 413 when it grows past the bound, 408
// when it comes too slowly for the server's read timeout.
func (d *Daemon) webhook(w http.ResponseWriter, r *http.Request) {
	if len(d.opts.WebhookSecret) == 0 {
		http.Error(w, "webhook disabled: set serve.webhook.secret_file", http.StatusNotFound)
		return
	}
	limit := int64(d.opts.WebhookLimits.MaxBodySize)
	if r.ContentLength > limit {
		refuseBody(w)
		http.Error(w, fmt.Sprintf("request body of %d bytes is larger than %d", r.ContentLength, limit), http.StatusRequestEntityTooLarge)
		return
	}
	// The signature headers are checked first: a request without one is
	// refused before any of its body is read.
	v, err := newVerifier(r.Header, d.opts.WebhookSecret, time.Now())
	if err != nil {
		refuseBody(w)
		d.log.Warn("webhook refused", "remote", r.RemoteAddr, "err", err)
		http.Error(w, "unauthorized: "+err.Error(), http.StatusUnauthorized)
		return
	}
	select {
	case d.hooks <- struct{}{}:
		defer func() { <-d.hooks }()
	default:
		refuseBody(w)
		w.Header().Set("Retry-After", webhookRetryAfter)
		http.Error(w, "too many webhook requests in flight", http.StatusTooManyRequests)
		return
	}
	if err := v.check(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var tooLarge *http.MaxBytesError
		var netErr net.Error
		switch {
		case errors.As(err, &tooLarge):
			http.Error(w, fmt.Sprintf("request body larger than %d bytes", limit), http.StatusRequestEntityTooLarge)
		case errors.Is(err, errBadSignature):
			d.log.Warn("webhook refused", "remote", r.RemoteAddr, "err", err)
			http.Error(w, "unauthorized: "+err.Error(), http.StatusUnauthorized)
		case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
			refuseBody(w)
			d.log.Warn("webhook cut off: its body came too slowly", "remote", r.RemoteAddr, "err", err)
			http.Error(w, "request body not received within the read timeout", http.StatusRequestTimeout)
		default:
			refuseBody(w)
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		}
		return
	}
	if r.Header.Get("X-GitHub-Event") == "ping" {
		io.WriteString(w, "pong\n")
		return
	}
	if !d.leading.Load() {
		http.Error(w, "not the leader: the leader checks on its own schedule", http.StatusServiceUnavailable)
		return
	}
	if !d.Trigger("webhook") {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "skipped: a check is already running or queued\n")
		return
	}
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, "check triggered\n")
}

// refuseBody makes the server answer at once and close the connection,
// rather than wait to read a request body that will not be used (a slow
// client could otherwise hold the answer until the read timeout).
func refuseBody(w http.ResponseWriter) { w.Header().Set("Connection", "close") }

// errBadSignature is wrapped by every signature failure.
var errBadSignature = errors.New("bad signature")

// verifier checks one request's signature while its body streams through
// it. Write the body to it, then call verify.
type verifier struct {
	mac    hash.Hash
	verify func(sum []byte) error
}

// newVerifier picks the signature scheme from the request's headers, in
// the style of the sender:
//   - GitHub: X-Hub-Signature-256: sha256=HMAC-SHA256(secret, body), in hex;
//   - GitLab signing tokens (Standard Webhooks): webhook-id,
//     webhook-timestamp, webhook-signature: v1,base64(HMAC-SHA256(key,
//     "id.timestamp.body")), where the secret is whsec_base64(key);
//   - GitLab secret tokens: X-Gitlab-Token equal to the secret, which needs
//     no body at all.
//
// Comparisons are constant-time. A request with none of these is refused
// before its body is read.
func newVerifier(h http.Header, secret []byte, now time.Time) (*verifier, error) {
	if sig := h.Get("X-Hub-Signature-256"); sig != "" {
		got, ok := strings.CutPrefix(sig, "sha256=")
		if !ok {
			return nil, fmt.Errorf("%w: X-Hub-Signature-256 is not of the form sha256=HEX", errBadSignature)
		}
		gotB, err := hex.DecodeString(got)
		if err != nil {
			return nil, fmt.Errorf("%w: X-Hub-Signature-256: not hex", errBadSignature)
		}
		return &verifier{mac: hmac.New(sha256.New, secret), verify: func(sum []byte) error {
			if !hmac.Equal(gotB, sum) {
				return fmt.Errorf("%w: X-Hub-Signature-256 does not match", errBadSignature)
			}
			return nil
		}}, nil
	}
	if sigs := h.Get("Webhook-Signature"); sigs != "" {
		id, ts := h.Get("Webhook-Id"), h.Get("Webhook-Timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if id == "" || err != nil {
			return nil, fmt.Errorf("%w: webhook-signature without a valid webhook-id and webhook-timestamp", errBadSignature)
		}
		if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
			return nil, fmt.Errorf("%w: webhook-timestamp is more than 5 minutes off", errBadSignature)
		}
		key := secret
		if b64, ok := strings.CutPrefix(string(secret), "whsec_"); ok {
			if key, err = base64.StdEncoding.DecodeString(b64); err != nil {
				return nil, fmt.Errorf("%w: webhook secret: whsec_ prefix but not base64", errBadSignature)
			}
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		return &verifier{mac: m, verify: func(want []byte) error {
			for _, s := range strings.Fields(sigs) {
				v, ok := strings.CutPrefix(s, "v1,")
				if !ok {
					continue
				}
				if got, err := base64.StdEncoding.DecodeString(v); err == nil && hmac.Equal(got, want) {
					return nil
				}
			}
			return fmt.Errorf("%w: webhook-signature does not match", errBadSignature)
		}}, nil
	}
	if tok := h.Get("X-Gitlab-Token"); tok != "" {
		if subtle.ConstantTimeCompare([]byte(tok), secret) != 1 {
			return nil, fmt.Errorf("%w: X-Gitlab-Token does not match", errBadSignature)
		}
		return &verifier{verify: func([]byte) error { return nil }}, nil
	}
	return nil, fmt.Errorf("%w: no signature: expected X-Hub-Signature-256, webhook-signature or X-Gitlab-Token", errBadSignature)
}

// verifyWebhook checks a webhook's signature over a body held in memory.
func verifyWebhook(h http.Header, body, secret []byte, now time.Time) error {
	v, err := newVerifier(h, secret, now)
	if err != nil {
		return err
	}
	return v.check(bytes.NewReader(body))
}

// check streams body through the signature and verifies it. A body that
// fails to read (too large, too slow) is that error.
func (v *verifier) check(body io.Reader) error {
	if v.mac == nil {
		// A token scheme: drain what is left, bounded, without hashing.
		if _, err := io.Copy(io.Discard, body); err != nil {
			return err
		}
		return v.verify(nil)
	}
	if _, err := io.Copy(v.mac, body); err != nil {
		return err
	}
	return v.verify(v.mac.Sum(nil))
}
