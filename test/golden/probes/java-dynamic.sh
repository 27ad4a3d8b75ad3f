_java_dynamic java-dynamic 4194305
