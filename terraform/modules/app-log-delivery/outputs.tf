output "stream_arn" {
  description = "ARN of the Firehose stream."
  value       = aws_kinesis_firehose_delivery_stream.this.arn
}

output "data_prefix" {
  description = "The key prefix Firehose writes each day's logs under (with its !{timestamp:yyyy-MM-dd})."
  value       = aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].prefix
}

output "prefix" {
  description = "The key prefix above the daily folders (<prefix><yyyy-MM-dd>/): the logs table's location."
  value       = var.prefix
}

output "costjob_logs_prefix" {
  description = "The same prefix as costjob's [logs] path names the day: <prefix>{date}/."
  value       = "${var.prefix}{date}/"
}

output "log_group_names" {
  description = "The log groups subscribed to the stream."
  value       = [for f in aws_cloudwatch_log_subscription_filter.this : f.log_group_name]
}
