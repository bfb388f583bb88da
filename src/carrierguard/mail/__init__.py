"""Pillar M: mail authentication (SPF, DKIM, ARC, DMARC), phishing detection, milter."""
