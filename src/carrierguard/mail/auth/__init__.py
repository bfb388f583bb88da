"""Mail authentication checks: SPF, DKIM, ARC, DMARC and Authentication-Results."""
