"""The Elastic side: ECS mapping, KQL and EQL with Elasticsearch's semantics, Kibana rules, deploy."""
