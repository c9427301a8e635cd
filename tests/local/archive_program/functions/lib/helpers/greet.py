def greet():
    return "hello from a nested archive"
