"""DMARC reports: aggregate (RFC 9990) and failure (RFC 9991), built pure, sent at the edge."""
