"""The web console's static files (next: issue 11), served by the API."""
