_java_home java-home 'java/static/java_home/version' 262145
