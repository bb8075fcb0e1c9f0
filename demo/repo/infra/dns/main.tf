terraform {
  backend "local" {
    path = "@STATE@/dns.tfstate"
  }
  required_providers {
    local = { source = "hashicorp/local" }
  }
}

variable "api_token" {
  type      = string
  sensitive = true
  default   = "demo-token-never-shown"
}

resource "local_file" "zone" {
  filename = "@REALITY@/zone.example.com"
  content  = "api  A  10.0.0.10\nweb  A  10.0.0.20\n"
}

resource "local_file" "credentials" {
  filename = "@REALITY@/dns-credentials"
  content  = "token=${var.api_token}\n"
}
