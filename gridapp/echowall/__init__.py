"""Echo wall (回音壁): posters, the public report and tracking pages, the community wall."""
