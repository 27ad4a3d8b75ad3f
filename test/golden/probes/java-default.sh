_java_default java-default 'java/static/default_java/version' 262145
