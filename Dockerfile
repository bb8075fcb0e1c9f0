# driftd's image: a static driftd and terraform on a small, non-root base.
# Build: docker build -t driftd .   (needs network access to the Go proxy)
ARG GO_VERSION=1.26
ARG TERRAFORM_VERSION=1.5.7

FROM golang:${GO_VERSION}-bookworm AS build
ARG TERRAFORM_VERSION
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/driftd ./cmd/driftd
# terraform 1.5.7 is the last MPL-licensed release; use tofu by setting
# layers.infra.binary if you prefer.
RUN CGO_ENABLED=0 GOBIN=/out go install -trimpath -ldflags "-s -w" github.com/hashicorp/terraform@v${TERRAFORM_VERSION}

FROM debian:bookworm-slim
# git is not needed (driftd uses go-git); openssh-client is not needed
# (driftd speaks SSH itself). ca-certificates is for HTTPS remotes and
# providers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 65532 --user-group --no-create-home --home-dir /var/cache/driftd driftd
COPY --from=build /out/driftd /out/terraform /usr/local/bin/
USER 65532:65532
ENV HOME=/var/cache/driftd
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/driftd"]
CMD ["serve", "--config=/etc/driftd/config/driftd.yaml"]
