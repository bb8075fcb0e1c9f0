package source

import "net/url"

// RedactURL returns a remote URL fit for reports and logs: a password in
// it is replaced by "xxxxx", and for http(s) a user name too, since tokens
// are passed as one. The config loader refuses such URLs; this is defence
// in depth.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		u.User = url.User("xxxxx")
		return u.String()
	}
	return u.Redacted()
}
