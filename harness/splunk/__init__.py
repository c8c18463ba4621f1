"""The Splunk side: field view, SPL subset, macros, the search command's protocol, the app build."""
