"""The review service's HTTP routes, one router per resource; ``create_app`` includes them."""
