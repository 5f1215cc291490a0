"""The web console: plain HTML, CSS and ES modules in `static/`, served by the API at `/`
(`console.mount_console`). No build step, nothing loaded from another host."""
