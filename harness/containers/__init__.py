"""The Docker tier: real Splunk and Elasticsearch + Kibana containers driven over their APIs."""
