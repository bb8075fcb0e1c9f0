package daemon

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxWebhookBody bounds what a webhook may send.
const maxWebhookBody = 25 << 20

// verifyWebhook checks a push webhook's signature against secret, in the
// style of the sender:
//   - GitHub: X-Hub-Signature-256: sha256=HMAC-SHA256(secret, body), in hex;
//   - GitLab signing tokens (Standard Webhooks): webhook-id,
//     webhook-timestamp, webhook-signature: v1,base64(HMAC-SHA256(key,
//     "id.timestamp.body")), where the secret is whsec_base64(key);
//   - GitLab secret tokens: X-Gitlab-Token equal to the secret.
//
// Comparisons are constant-time. A request with none of these is refused.
func verifyWebhook(h http.Header, body, secret []byte, now time.Time) error {
	if sig := h.Get("X-Hub-Signature-256"); sig != "" {
		got, ok := strings.CutPrefix(sig, "sha256=")
		if !ok {
			return errors.New("X-Hub-Signature-256: not sha256=...")
		}
		gotB, err := hex.DecodeString(got)
		if err != nil {
			return errors.New("X-Hub-Signature-256: not hex")
		}
		m := hmac.New(sha256.New, secret)
		m.Write(body)
		if !hmac.Equal(gotB, m.Sum(nil)) {
			return errors.New("X-Hub-Signature-256 does not match")
		}
		return nil
	}
	if sigs := h.Get("Webhook-Signature"); sigs != "" {
		id, ts := h.Get("Webhook-Id"), h.Get("Webhook-Timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if id == "" || err != nil {
			return errors.New("webhook-signature without a valid webhook-id and webhook-timestamp")
		}
		if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
			return errors.New("webhook-timestamp is more than 5 minutes off")
		}
		key := secret
		if b64, ok := strings.CutPrefix(string(secret), "whsec_"); ok {
			if key, err = base64.StdEncoding.DecodeString(b64); err != nil {
				return errors.New("webhook secret: whsec_ prefix but not base64")
			}
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		want := m.Sum(nil)
		for _, s := range strings.Fields(sigs) {
			v, ok := strings.CutPrefix(s, "v1,")
			if !ok {
				continue
			}
			if got, err := base64.StdEncoding.DecodeString(v); err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
		return errors.New("webhook-signature does not match")
	}
	if tok := h.Get("X-Gitlab-Token"); tok != "" {
		if subtle.ConstantTimeCompare([]byte(tok), secret) != 1 {
			return errors.New("X-Gitlab-Token does not match")
		}
		return nil
	}
	return errors.New("no signature: expected X-Hub-Signature-256, webhook-signature or X-Gitlab-Token")
}
