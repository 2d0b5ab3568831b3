/*
 * test_ec2.c - EC2 filters and DescribeInstances pages (common/ec2.h).
 *
 *   make build/asan/tests/test_ec2 && build/asan/tests/test_ec2
 *
 * filters/<row>   ec2_filters_parse() of one spec: the filters it gives
 *                 (written back with ec2_filters_describe()) and the
 *                 Filter.N.Name / Filter.N.Value.M parameters, or the error.
 * instances/<id>  one instance of a real-shaped DescribeInstances page, field
 *                 by field. The page carries the parts our parser must skip:
 *                 EBS attachTimes, ENI privateIpAddress and groupSet items,
 *                 a secondary ENI listed before the primary one.
 * pages/<row>     documents that must be refused, or give no instances.
 *
 * Expected epochs were computed independently (Python's calendar.timegm).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

#include "ec2.h"
#include "fake_aws.h"

#include "helpers.h"
#include "banned.h"


/* ---- filters ---- */

struct filter_case {
	const char *name;
	const char *spec;
	int err;
	const char *described;	/* ec2_filters_describe(), or the error message */
	const char *params;	/* "key=value&..." in order */
};

static struct filter_case filter_cases[] = {
	{ "one-tag", "tag:devcloud:role=devbox", 0, "tag:devcloud:role=devbox",
	  "Filter.1.Name=tag:devcloud:role&Filter.1.Value.1=devbox" },
	{ "header-example", "tag:devcloud:role=devbox;instance-type=t3.large,t3.xlarge", 0,
	  "tag:devcloud:role=devbox; instance-type=t3.large,t3.xlarge",
	  "Filter.1.Name=tag:devcloud:role&Filter.1.Value.1=devbox"
	  "&Filter.2.Name=instance-type&Filter.2.Value.1=t3.large&Filter.2.Value.2=t3.xlarge" },
	{ "spaces-trimmed", "  tag:team = a , b ;  instance-state-name = running  ", 0,
	  "tag:team=a,b; instance-state-name=running",
	  "Filter.1.Name=tag:team&Filter.1.Value.1=a&Filter.1.Value.2=b"
	  "&Filter.2.Name=instance-state-name&Filter.2.Value.1=running" },
	{ "empty-parts-skipped", ";;tag:a=1;;", 0, "tag:a=1", "Filter.1.Name=tag:a&Filter.1.Value.1=1" },
	{ "first-equals-ends-name", "tag:expr=a=b", 0, "tag:expr=a=b",
	  "Filter.1.Name=tag:expr&Filter.1.Value.1=a=b" },
	{ "wildcards-kept", "tag:Name=dev-*,?box", 0, "tag:Name=dev-*,?box",
	  "Filter.1.Name=tag:Name&Filter.1.Value.1=dev-*&Filter.1.Value.2=?box" },
	{ "inner-space-kept", "tag:Name=my box", 0, "tag:Name=my box",
	  "Filter.1.Name=tag:Name&Filter.1.Value.1=my box" },
	{ "ten-values", "instance-id=i-0,i-1,i-2,i-3,i-4,i-5,i-6,i-7,i-8,i-9", 0,
	  "instance-id=i-0,i-1,i-2,i-3,i-4,i-5,i-6,i-7,i-8,i-9",
	  "Filter.1.Name=instance-id&Filter.1.Value.1=i-0&Filter.1.Value.2=i-1"
	  "&Filter.1.Value.3=i-2&Filter.1.Value.4=i-3&Filter.1.Value.5=i-4&Filter.1.Value.6=i-5"
	  "&Filter.1.Value.7=i-6&Filter.1.Value.8=i-7&Filter.1.Value.9=i-8"
	  "&Filter.1.Value.10=i-9" },

	{ "empty", "", ERR_CONFIG, "INSTANCE_FILTERS is empty: it must select something", NULL },
	{ "only-separators", " ; ;", ERR_CONFIG,
	  "INSTANCE_FILTERS is empty: it must select something", NULL },
	{ "no-equals", "tag:a=1;devbox", ERR_CONFIG,
	  "INSTANCE_FILTERS: filter 'devbox' has no '=' (write name=value[,value])", NULL },
	{ "no-name", " =x", ERR_CONFIG, "INSTANCE_FILTERS: filter '=x' has no name", NULL },
	{ "no-value", "tag:a= ", ERR_CONFIG, "INSTANCE_FILTERS: filter 'tag:a' has no value", NULL },
	{ "empty-value-inside", "tag:a=1,,2", ERR_CONFIG,
	  "INSTANCE_FILTERS: filter 'tag:a' has an empty value", NULL },
	{ "trailing-comma", "tag:a=1, ", ERR_CONFIG,
	  "INSTANCE_FILTERS: filter 'tag:a' has an empty value", NULL },
	{ "leading-comma", "tag:a=,1", ERR_CONFIG,
	  "INSTANCE_FILTERS: filter 'tag:a' has an empty value", NULL },
	{ "error-after-good-ones", "tag:a=1;tag:b=2;tag:c", ERR_CONFIG,
	  "INSTANCE_FILTERS: filter 'tag:c' has no '=' (write name=value[,value])", NULL },
};

static void params_join(const struct aws_params *p, struct buf *out)
{
	for (size_t i = 0; i < p->count; i++)
		buf_appendf(out, "%s%s=%s", i ? "&" : "", p->items[i].key, p->items[i].value);
}

static void test_filters(void **state)
{
	const struct filter_case *c = *state;
	struct ec2_filter_list list = EC2_FILTER_LIST_INIT;
	struct aws_params params = AWS_PARAMS_INIT;
	struct buf errmsg = BUF_INIT, described = BUF_INIT, joined = BUF_INIT;
	int err = ec2_filters_parse(c->spec, "INSTANCE_FILTERS", &list, &errmsg);

	assert_int_equal(err, c->err);
	if (err) {
		assert_string_equal(buf_cstr(&errmsg), c->described);
		assert_int_equal(list.count, 0);
		assert_null(list.items);
	} else {
		assert_string_equal(buf_cstr(&errmsg), "");
		for (size_t i = 0; i < list.count; i++) {
			assert_non_null(list.items[i].values);
			assert_null(list.items[i].values[list.items[i].value_count]);
		}
		ec2_filters_describe(&list, &described);
		assert_string_equal(buf_cstr(&described), c->described);
		ec2_filters_to_params(&list, &params);
		params_join(&params, &joined);
		assert_string_equal(buf_cstr(&joined), c->params);
	}
	ec2_filters_release(&list);
	assert_int_equal(list.count, 0);
	aws_params_release(&params);
	buf_release(&errmsg);
	buf_release(&described);
	buf_release(&joined);
}

/* filters/with-states/<row>: the listing filters a function builds */
struct with_states_case {
	const char *name;
	const char *spec;
	const char *described;
};

static struct with_states_case with_states_cases[] = {
	{ "added", "tag:devcloud:role=builder",
	  "tag:devcloud:role=builder; instance-state-name=running,stopped" },
	{ "theirs-kept", "tag:devcloud:role=builder;instance-state-name=pending",
	  "tag:devcloud:role=builder; instance-state-name=pending" },
	{ "state-code-is-not-a-state-name", "instance-state-code=16",
	  "instance-state-code=16; instance-state-name=running,stopped" },
};

static void test_filters_with_states(void **state)
{
	static const char *const states[] = { "running", "stopped", NULL };
	const struct with_states_case *c = *state;
	struct ec2_filter_list filters = EC2_FILTER_LIST_INIT, query = EC2_FILTER_LIST_INIT;
	struct buf errmsg = BUF_INIT, out = BUF_INIT;

	assert_int_equal(ec2_filters_parse(c->spec, "X", &filters, &errmsg), 0);
	ec2_filters_with_states(&filters, states, &query);
	ec2_filters_describe(&query, &out);
	assert_string_equal(buf_cstr(&out), c->described);
	ec2_filters_release(&filters);
	ec2_filters_release(&query);
	buf_release(&errmsg);
	buf_release(&out);
}

static void test_filters_add(void **state)
{
	static const char *const states[] = { "running", "pending", NULL };
	static const char *const none[] = { NULL };
	struct ec2_filter_list list = EC2_FILTER_LIST_INIT;
	struct aws_params params = AWS_PARAMS_INIT;
	struct buf errmsg = BUF_INIT, out = BUF_INIT;

	(void)state;
	assert_int_equal(ec2_filters_parse("tag:devcloud:role=devbox", "X", &list, &errmsg), 0);
	ec2_filters_add(&list, "instance-state-name", states);
	ec2_filters_add(&list, "empty", none);
	assert_int_equal(list.count, 3);
	assert_int_equal(list.items[1].value_count, 2);
	assert_null(list.items[1].values[2]);
	assert_int_equal(list.items[2].value_count, 0);
	assert_null(list.items[2].values[0]);
	ec2_filters_describe(&list, &out);
	assert_string_equal(buf_cstr(&out),
			    "tag:devcloud:role=devbox; instance-state-name=running,pending; empty=");
	buf_reset(&out);
	aws_params_add(&params, "MaxResults", "1000");	/* appended after what is there */
	ec2_filters_to_params(&list, &params);
	params_join(&params, &out);
	assert_string_equal(buf_cstr(&out),
			    "MaxResults=1000&Filter.1.Name=tag:devcloud:role&Filter.1.Value.1=devbox"
			    "&Filter.2.Name=instance-state-name&Filter.2.Value.1=running"
			    "&Filter.2.Value.2=pending&Filter.3.Name=empty");
	ec2_filters_release(&list);
	ec2_filters_release(&list);	/* twice is harmless */
	aws_params_release(&params);
	buf_release(&errmsg);
	buf_release(&out);
}

/* ---- DescribeInstances ---- */

/* Shaped after a real eu-west-1 answer, with ids and addresses changed. */
static const char page1[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
	"    <requestId>8f7724cf-496f-496e-8fe3-4ee4b14a5e08</requestId>\n"
	"    <reservationSet>\n"
	"        <item>\n"
	"            <reservationId>r-0a1b2c3d4e5f60718</reservationId>\n"
	"            <ownerId>123456789012</ownerId>\n"
	"            <groupSet/>\n"
	"            <instancesSet>\n"
	"                <item>\n"
	"                    <instanceId>i-0a1a1a1a1a1a1a1a1</instanceId>\n"
	"                    <imageId>ami-0b9c3a5e1f2d4c6b8</imageId>\n"
	"                    <instanceState>\n"
	"                        <code>16</code>\n"
	"                        <name>running</name>\n"
	"                    </instanceState>\n"
	"                    <privateDnsName>ip-10-0-1-17.eu-west-1.compute.internal</privateDnsName>\n"
	"                    <dnsName>ec2-54-194-252-215.eu-west-1.compute.amazonaws.com</dnsName>\n"
	"                    <reason/>\n"
	"                    <keyName>dev-alice</keyName>\n"
	"                    <amiLaunchIndex>0</amiLaunchIndex>\n"
	"                    <productCodes/>\n"
	"                    <instanceType>t3.large</instanceType>\n"
	"                    <launchTime>2026-11-25T08:02:11.000Z</launchTime>\n"
	"                    <placement>\n"
	"                        <availabilityZone>eu-west-1c</availabilityZone>\n"
	"                        <groupName/>\n"
	"                        <tenancy>default</tenancy>\n"
	"                    </placement>\n"
	"                    <monitoring>\n"
	"                        <state>disabled</state>\n"
	"                    </monitoring>\n"
	"                    <subnetId>subnet-56f5f633</subnetId>\n"
	"                    <vpcId>vpc-11112222</vpcId>\n"
	"                    <privateIpAddress>10.0.1.17</privateIpAddress>\n"
	"                    <ipAddress>54.194.252.215</ipAddress>\n"
	"                    <sourceDestCheck>true</sourceDestCheck>\n"
	"                    <groupSet>\n"
	"                        <item>\n"
	"                            <groupId>sg-e4076980</groupId>\n"
	"                            <groupName>devbox</groupName>\n"
	"                        </item>\n"
	"                    </groupSet>\n"
	"                    <architecture>x86_64</architecture>\n"
	"                    <rootDeviceType>ebs</rootDeviceType>\n"
	"                    <rootDeviceName>/dev/xvda</rootDeviceName>\n"
	"                    <blockDeviceMapping>\n"
	"                        <item>\n"
	"                            <deviceName>/dev/xvda</deviceName>\n"
	"                            <ebs>\n"
	"                                <volumeId>vol-1234567890abcdef0</volumeId>\n"
	"                                <status>attached</status>\n"
	"                                <attachTime>2026-10-01T00:00:00.000Z</attachTime>\n"
	"                                <deleteOnTermination>true</deleteOnTermination>\n"
	"                            </ebs>\n"
	"                        </item>\n"
	"                    </blockDeviceMapping>\n"
	"                    <virtualizationType>hvm</virtualizationType>\n"
	"                    <clientToken>xMcwG14507example</clientToken>\n"
	"                    <tagSet>\n"
	"                        <item>\n"
	"                            <key>Name</key>\n"
	"                            <value>alice-devbox</value>\n"
	"                        </item>\n"
	"                        <item>\n"
	"                            <key>devcloud:role</key>\n"
	"                            <value>devbox</value>\n"
	"                        </item>\n"
	"                        <item>\n"
	"                            <key>devcloud:keep-running</key>\n"
	"                            <value>2026-11-27</value>\n"
	"                        </item>\n"
	"                    </tagSet>\n"
	"                    <hypervisor>xen</hypervisor>\n"
	"                    <networkInterfaceSet>\n"
	"                        <item>\n"
	"                            <networkInterfaceId>eni-0c0c0c0c0c0c0c0c1</networkInterfaceId>\n"
	"                            <subnetId>subnet-56f5f633</subnetId>\n"
	"                            <vpcId>vpc-11112222</vpcId>\n"
	"                            <description>secondary</description>\n"
	"                            <ownerId>123456789012</ownerId>\n"
	"                            <status>in-use</status>\n"
	"                            <macAddress>02:dd:2c:5e:01:70</macAddress>\n"
	"                            <privateIpAddress>10.0.1.99</privateIpAddress>\n"
	"                            <sourceDestCheck>true</sourceDestCheck>\n"
	"                            <groupSet>\n"
	"                                <item><groupId>sg-e4076980</groupId><groupName>devbox</groupName></item>\n"
	"                            </groupSet>\n"
	"                            <attachment>\n"
	"                                <attachmentId>eni-attach-0d0d0d0d0d0d0d0d1</attachmentId>\n"
	"                                <deviceIndex>1</deviceIndex>\n"
	"                                <status>attached</status>\n"
	"                                <attachTime>2026-11-20T10:15:00.000Z</attachTime>\n"
	"                                <deleteOnTermination>false</deleteOnTermination>\n"
	"                                <networkCardIndex>0</networkCardIndex>\n"
	"                            </attachment>\n"
	"                            <privateIpAddressesSet>\n"
	"                                <item><privateIpAddress>10.0.1.99</privateIpAddress><primary>true</primary></item>\n"
	"                            </privateIpAddressesSet>\n"
	"                            <ipv6AddressesSet/>\n"
	"                            <interfaceType>interface</interfaceType>\n"
	"                        </item>\n"
	"                        <item>\n"
	"                            <networkInterfaceId>eni-0c0c0c0c0c0c0c0c0</networkInterfaceId>\n"
	"                            <subnetId>subnet-56f5f633</subnetId>\n"
	"                            <vpcId>vpc-11112222</vpcId>\n"
	"                            <description>Primary network interface</description>\n"
	"                            <ownerId>123456789012</ownerId>\n"
	"                            <status>in-use</status>\n"
	"                            <macAddress>02:dd:2c:5e:01:69</macAddress>\n"
	"                            <privateIpAddress>10.0.1.17</privateIpAddress>\n"
	"                            <sourceDestCheck>true</sourceDestCheck>\n"
	"                            <groupSet>\n"
	"                                <item><groupId>sg-e4076980</groupId><groupName>devbox</groupName></item>\n"
	"                            </groupSet>\n"
	"                            <attachment>\n"
	"                                <attachmentId>eni-attach-0d0d0d0d0d0d0d0d0</attachmentId>\n"
	"                                <deviceIndex>0</deviceIndex>\n"
	"                                <status>attached</status>\n"
	"                                <attachTime>2026-11-02T09:30:45.000Z</attachTime>\n"
	"                                <deleteOnTermination>true</deleteOnTermination>\n"
	"                                <networkCardIndex>0</networkCardIndex>\n"
	"                            </attachment>\n"
	"                            <association>\n"
	"                                <publicIp>54.194.252.215</publicIp>\n"
	"                                <publicDnsName>ec2-54-194-252-215.eu-west-1.compute.amazonaws.com</publicDnsName>\n"
	"                                <ipOwnerId>amazon</ipOwnerId>\n"
	"                            </association>\n"
	"                            <privateIpAddressesSet>\n"
	"                                <item><privateIpAddress>10.0.1.17</privateIpAddress><primary>true</primary></item>\n"
	"                            </privateIpAddressesSet>\n"
	"                            <ipv6AddressesSet/>\n"
	"                            <interfaceType>interface</interfaceType>\n"
	"                        </item>\n"
	"                    </networkInterfaceSet>\n"
	"                    <ebsOptimized>false</ebsOptimized>\n"
	"                    <enaSupport>true</enaSupport>\n"
	"                    <cpuOptions><coreCount>1</coreCount><threadsPerCore>2</threadsPerCore></cpuOptions>\n"
	"                    <capacityReservationSpecification>\n"
	"                        <capacityReservationPreference>open</capacityReservationPreference>\n"
	"                    </capacityReservationSpecification>\n"
	"                    <hibernationOptions>\n"
	"                        <configured>true</configured>\n"
	"                    </hibernationOptions>\n"
	"                    <metadataOptions><state>applied</state><httpTokens>required</httpTokens></metadataOptions>\n"
	"                    <bootMode>uefi-preferred</bootMode>\n"
	"                </item>\n"
	"                <item>\n"
	"                    <instanceId>i-0b2b2b2b2b2b2b2b2</instanceId>\n"
	"                    <imageId>ami-0b9c3a5e1f2d4c6b8</imageId>\n"
	"                    <instanceState>\n"
	"                        <code>80</code>\n"
	"                        <name>stopped</name>\n"
	"                    </instanceState>\n"
	"                    <privateDnsName>ip-10-0-1-18.eu-west-1.compute.internal</privateDnsName>\n"
	"                    <dnsName/>\n"
	"                    <reason>User initiated (2026-11-24 18:00:03 GMT)</reason>\n"
	"                    <amiLaunchIndex>1</amiLaunchIndex>\n"
	"                    <productCodes/>\n"
	"                    <instanceType>m5.xlarge</instanceType>\n"
	"                    <launchTime>2026-11-24T07:00:00.000Z</launchTime>\n"
	"                    <placement><availabilityZone>eu-west-1c</availabilityZone><tenancy>default</tenancy></placement>\n"
	"                    <monitoring><state>disabled</state></monitoring>\n"
	"                    <subnetId>subnet-56f5f633</subnetId>\n"
	"                    <vpcId>vpc-11112222</vpcId>\n"
	"                    <privateIpAddress>10.0.1.18</privateIpAddress>\n"
	"                    <sourceDestCheck>true</sourceDestCheck>\n"
	"                    <stateReason>\n"
	"                        <code>Client.UserInitiatedShutdown</code>\n"
	"                        <message>Client.UserInitiatedShutdown: User initiated shutdown</message>\n"
	"                    </stateReason>\n"
	"                    <architecture>x86_64</architecture>\n"
	"                    <rootDeviceType>ebs</rootDeviceType>\n"
	"                    <rootDeviceName>/dev/xvda</rootDeviceName>\n"
	"                    <blockDeviceMapping/>\n"
	"                    <virtualizationType>hvm</virtualizationType>\n"
	"                    <tagSet/>\n"
	"                    <hypervisor>xen</hypervisor>\n"
	"                    <networkInterfaceSet>\n"
	"                        <item>\n"
	"                            <networkInterfaceId>eni-0e0e0e0e0e0e0e0e0</networkInterfaceId>\n"
	"                            <privateIpAddress>10.0.1.18</privateIpAddress>\n"
	"                            <attachment>\n"
	"                                <attachmentId>eni-attach-0f0f0f0f0f0f0f0f0</attachmentId>\n"
	"                                <deviceIndex>0</deviceIndex>\n"
	"                                <status>attached</status>\n"
	"                                <attachTime>2026-09-15T12:00:00.000Z</attachTime>\n"
	"                                <deleteOnTermination>true</deleteOnTermination>\n"
	"                            </attachment>\n"
	"                        </item>\n"
	"                    </networkInterfaceSet>\n"
	"                    <ebsOptimized>true</ebsOptimized>\n"
	"                    <hibernationOptions>\n"
	"                        <configured>false</configured>\n"
	"                    </hibernationOptions>\n"
	"                </item>\n"
	"            </instancesSet>\n"
	"        </item>\n"
	"        <item>\n"
	"            <reservationId>r-0c3c3c3c3c3c3c3c3</reservationId>\n"
	"            <ownerId>123456789012</ownerId>\n"
	"            <requesterId>940372691376</requesterId>\n"
	"            <groupSet/>\n"
	"            <instancesSet>\n"
	"                <item>\n"
	"                    <instanceId>i-0c3c3c3c3c3c3c3c3</instanceId>\n"
	"                    <imageId>ami-0d4d4d4d4d4d4d4d4</imageId>\n"
	"                    <instanceState><code>0</code><name>pending</name></instanceState>\n"
	"                    <instanceType>g5.2xlarge</instanceType>\n"
	"                    <launchTime>2026-11-25T08:05:00Z</launchTime>\n"
	"                    <tagSet>\n"
	"                        <item><key>devcloud:role</key><value>gpu</value></item>\n"
	"                        <item><key>empty</key><value/></item>\n"
	"                        <item><key>no-value</key></item>\n"
	"                        <item><value>no key: skipped</value></item>\n"
	"                    </tagSet>\n"
	"                    <hibernationOptions><configured>true</configured></hibernationOptions>\n"
	"                </item>\n"
	"            </instancesSet>\n"
	"        </item>\n"
	"    </reservationSet>\n"
	"    <nextToken>eyJ2IjoiMiIsImMiOiJsb3JlbSBpcHN1bSJ9</nextToken>\n"
	"</DescribeInstancesResponse>\n";

#define MAX_TAGS 4

struct instance_case {
	const char *id;
	const char *state;
	const char *type;
	const char *image_id;
	const char *private_ip;
	const char *public_ip;
	int64_t launch_time;
	int64_t attach_time;
	bool hibernation;
	size_t tag_count;
	struct ec2_tag tags[MAX_TAGS];
};

static struct instance_case instance_cases[] = {
	{ "i-0a1a1a1a1a1a1a1a1", "running", "t3.large", "ami-0b9c3a5e1f2d4c6b8", "10.0.1.17",
	  "54.194.252.215", 1795593731 /* 2026-11-25T08:02:11Z */,
	  1793611845 /* 2026-11-02T09:30:45Z: the primary ENI, listed second */, true, 3,
	  { { (char *)"Name", (char *)"alice-devbox" },
	    { (char *)"devcloud:role", (char *)"devbox" },
	    { (char *)"devcloud:keep-running", (char *)"2026-11-27" } } },
	{ "i-0b2b2b2b2b2b2b2b2", "stopped", "m5.xlarge", "ami-0b9c3a5e1f2d4c6b8", "10.0.1.18",
	  NULL, 1795503600 /* 2026-11-24T07:00:00Z */, 1789473600 /* 2026-09-15T12:00:00Z */,
	  false, 0, { { NULL, NULL } } },
	{ "i-0c3c3c3c3c3c3c3c3", "pending", "g5.2xlarge", "ami-0d4d4d4d4d4d4d4d4", NULL, NULL,
	  1795593900 /* 2026-11-25T08:05:00Z */, 0, true, 3,
	  { { (char *)"devcloud:role", (char *)"gpu" },
	    { (char *)"empty", (char *)"" },
	    { (char *)"no-value", (char *)"" } } },
};

static struct xml_node *page1_root;
static struct ec2_instance_list page1_list = EC2_INSTANCE_LIST_INIT;

static int page1_setup(void **state)
{
	(void)state;
	page1_root = parse_fixture(page1, "page1");
	return page1_root && ec2_parse_instances(page1_root, &page1_list) == 0 ? 0 : -1;
}

static int page1_teardown(void **state)
{
	(void)state;
	ec2_instance_list_release(&page1_list);
	xml_free(page1_root);
	return 0;
}

static void test_instance(void **state)
{
	const struct instance_case *c = *state;
	const struct ec2_instance *inst = NULL;
	size_t index = (size_t)(c - instance_cases);

	assert_int_equal(page1_list.count, ARRAY_SIZE(instance_cases));
	inst = &page1_list.items[index];	/* document order */
	assert_string_equal(inst->id, c->id);
	assert_string_equal(inst->state, c->state);
	assert_opt_string(inst->type, c->type);
	assert_opt_string(inst->image_id, c->image_id);
	assert_opt_string(inst->private_ip, c->private_ip);
	assert_opt_string(inst->public_ip, c->public_ip);
	assert_int_equal(inst->launch_time, c->launch_time);
	assert_int_equal(inst->attach_time, c->attach_time);
	assert_int_equal(inst->hibernation_configured, c->hibernation);
	assert_int_equal(inst->tag_count, c->tag_count);
	for (size_t i = 0; i < c->tag_count; i++) {
		assert_string_equal(inst->tags[i].key, c->tags[i].key);
		assert_string_equal(inst->tags[i].value, c->tags[i].value);
		assert_string_equal(ec2_instance_tag(inst, c->tags[i].key), c->tags[i].value);
	}
	assert_null(ec2_instance_tag(inst, "devcloud:missing"));
	assert_null(ec2_instance_tag(inst, "name"));	/* keys are case-sensitive */
}

/* The private DNS name: the scaler's AGENT_NAME=private-dns-name. */
static void test_private_dns_name(void **state)
{
	(void)state;
	assert_string_equal(page1_list.items[0].private_dns_name,
			    "ip-10-0-1-17.eu-west-1.compute.internal");
}

static void test_page_next_token(void **state)
{
	(void)state;
	assert_string_equal(xml_text(page1_root, "nextToken"),
			    "eyJ2IjoiMiIsImMiOiJsb3JlbSBpcHN1bSJ9");
	assert_string_equal(xml_text(page1_root, "requestId"),
			    "8f7724cf-496f-496e-8fe3-4ee4b14a5e08");
}

/*
 * A lean listing with a tag selection keeps, of the same page, the id, the
 * state, the times, hibernation and the selected tags only (a tag asked for
 * but absent is just absent).
 */
static void test_lean_listing(void **state)
{
	static const char *const keep[] = { "Name", "devcloud:missing", NULL };
	struct ec2_instance_list list = EC2_INSTANCE_LIST_INIT;
	size_t dropped = 0;

	(void)state;
	list.keep_tags = keep;
	list.lean = true;
	assert_int_equal(ec2_parse_instances(page1_root, &list), 0);
	assert_int_equal(list.count, page1_list.count);
	for (size_t i = 0; i < list.count; i++) {
		const struct ec2_instance *lean = &list.items[i], *full = &page1_list.items[i];
		const char *name = ec2_instance_tag(full, "Name");

		assert_string_equal(lean->id, full->id);
		assert_string_equal(lean->state, full->state);
		assert_int_equal(lean->launch_time, full->launch_time);
		assert_int_equal(lean->attach_time, full->attach_time);
		assert_int_equal(lean->hibernation_configured, full->hibernation_configured);
		assert_null(lean->type);
		assert_null(lean->image_id);
		assert_null(lean->private_ip);
		assert_null(lean->private_dns_name);
		assert_null(lean->public_ip);
		assert_int_equal(lean->tag_count, name ? 1 : 0);
		if (name)
			assert_string_equal(ec2_instance_tag(lean, "Name"), name);
		dropped += full->tag_count - lean->tag_count;
	}
	assert_true(dropped > 0);	/* the page has tags other than Name */
	/* the selection alone, without lean: every field, the selected tags */
	ec2_instance_list_release(&list);
	list.lean = false;
	assert_int_equal(ec2_parse_instances(page1_root, &list), 0);
	assert_string_equal(list.items[0].private_dns_name, page1_list.items[0].private_dns_name);
	assert_opt_string(list.items[0].type, page1_list.items[0].type);
	assert_true(list.items[0].tag_count <= 1);
	ec2_instance_list_release(&list);
}

/* Pages append: a second page adds to what the first one gave. */
static void test_pages_append(void **state)
{
	static const char page2[] =
		"<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
		"<requestId>2a9b0b1f-1d0e-4c1e-9d5e-1f1e1f1e1f1e</requestId>"
		"<reservationSet><item><reservationId>r-0d</reservationId><instancesSet>"
		"<item><instanceId>i-0d4d4d4d4d4d4d4d4</instanceId>"
		"<instanceState><code>16</code><name>running</name></instanceState>"
		"<launchTime>not a time</launchTime></item>"
		"</instancesSet></item></reservationSet>"
		"</DescribeInstancesResponse>";
	struct ec2_instance_list list = EC2_INSTANCE_LIST_INIT;
	struct xml_node *root;

	(void)state;
	assert_int_equal(ec2_parse_instances(page1_root, &list), 0);
	assert_int_equal(list.count, 3);
	assert_int_equal(xml_parse(view_from(page2), &root, NULL), 0);
	assert_int_equal(ec2_parse_instances(root, &list), 0);
	assert_int_equal(list.count, 4);
	assert_string_equal(list.items[0].id, "i-0a1a1a1a1a1a1a1a1");
	assert_string_equal(list.items[3].id, "i-0d4d4d4d4d4d4d4d4");
	assert_int_equal(list.items[3].launch_time, 0);	/* unreadable: unknown */
	assert_int_equal(list.items[3].tag_count, 0);
	assert_null(list.items[3].type);
	assert_false(list.items[3].hibernation_configured);
	xml_free(root);
	ec2_instance_list_release(&list);
	assert_null(list.items);
	assert_int_equal(list.count, 0);
	ec2_instance_list_release(&list);	/* twice is harmless */
}

/* Many instances: the list grows past its first allocation. */
static void test_many_instances(void **state)
{
	struct buf doc = BUF_INIT;
	struct ec2_instance_list list = EC2_INSTANCE_LIST_INIT;
	struct xml_node *root;

	(void)state;
	buf_appends(&doc, "<DescribeInstancesResponse><reservationSet>");
	for (int r = 0; r < 10; r++) {
		buf_appends(&doc, "<item><instancesSet>");
		for (int i = 0; i < 25; i++)
			buf_appendf(&doc,
				    "<item><instanceId>i-%03d</instanceId><instanceState><name>"
				    "running</name></instanceState><tagSet><item><key>n</key>"
				    "<value>%d</value></item></tagSet></item>",
				    r * 25 + i, r * 25 + i);
		buf_appends(&doc, "</instancesSet></item>");
	}
	buf_appends(&doc, "</reservationSet></DescribeInstancesResponse>");
	assert_int_equal(xml_parse(buf_view(&doc), &root, NULL), 0);
	assert_int_equal(ec2_parse_instances(root, &list), 0);
	assert_int_equal(list.count, 250);
	assert_true(list.cap >= 250);
	for (size_t i = 0; i < list.count; i++) {
		char id[32], n[32];
		snprintf(id, sizeof(id), "i-%03zu", i);
		snprintf(n, sizeof(n), "%zu", i);
		assert_string_equal(list.items[i].id, id);
		assert_string_equal(ec2_instance_tag(&list.items[i], "n"), n);
	}
	xml_free(root);
	ec2_instance_list_release(&list);
	buf_release(&doc);
}

struct page_case {
	const char *name;
	const char *doc;
	int err;
	size_t count;
};

static struct page_case page_cases[] = {
	{ "empty-reservation-set",
	  "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
	  "<requestId>r</requestId><reservationSet/></DescribeInstancesResponse>",
	  0, 0 },
	{ "no-reservation-set",
	  "<DescribeInstancesResponse><requestId>r</requestId></DescribeInstancesResponse>", 0,
	  0 },
	{ "reservation-without-instances",
	  "<DescribeInstancesResponse><reservationSet><item><reservationId>r-1</reservationId>"
	  "</item></reservationSet></DescribeInstancesResponse>",
	  0, 0 },
	{ "other-root-with-reservation-set",
	  "<RunInstancesResponse><reservationSet><item><instancesSet><item>"
	  "<instanceId>i-1</instanceId><instanceState><name>pending</name></instanceState>"
	  "</item></instancesSet></item></reservationSet></RunInstancesResponse>",
	  0, 1 },
	{ "error-document",
	  "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not "
	  "authorized to perform this operation.</Message></Error></Errors>"
	  "<RequestID>b5e5d5c5-0000-4000-8000-000000000000</RequestID></Response>",
	  ERR_PARSE, 0 },
	{ "stop-instances-response",
	  "<StopInstancesResponse><instancesSet><item><instanceId>i-1</instanceId></item>"
	  "</instancesSet></StopInstancesResponse>",
	  ERR_PARSE, 0 },
	{ "instance-without-id",
	  "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
	  "<item><instanceId>i-1</instanceId><instanceState><name>running</name></instanceState></item>"
	  "<item><instanceState><name>running</name></instanceState></item>"
	  "</instancesSet></item></reservationSet></DescribeInstancesResponse>",
	  ERR_PARSE, 1 },
	{ "instance-with-empty-id",
	  "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
	  "<item><instanceId></instanceId><instanceState><name>running</name></instanceState></item>"
	  "</instancesSet></item></reservationSet></DescribeInstancesResponse>",
	  ERR_PARSE, 0 },
	{ "instance-without-state",
	  "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
	  "<item><instanceId>i-1</instanceId><instanceState><code>16</code></instanceState>"
	  "<tagSet><item><key>k</key><value>v</value></item></tagSet></item>"
	  "</instancesSet></item></reservationSet></DescribeInstancesResponse>",
	  ERR_PARSE, 0 },
	{ "state-name-not-nested",
	  "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
	  "<item><instanceId>i-1</instanceId><name>running</name></item>"
	  "</instancesSet></item></reservationSet></DescribeInstancesResponse>",
	  ERR_PARSE, 0 },
};

static void test_page(void **state)
{
	const struct page_case *c = *state;
	struct ec2_instance_list list = EC2_INSTANCE_LIST_INIT;
	struct xml_node *root;

	assert_int_equal(xml_parse(view_from(c->doc), &root, NULL), 0);
	assert_int_equal(ec2_parse_instances(root, &list), c->err);
	/* on an error, what was appended before stays for the caller to release */
	assert_int_equal(list.count, c->count);
	ec2_instance_list_release(&list);
	xml_free(root);
}

/* ---- DescribeImages ---- */

/*
 * Shaped after AWS's documented answer, with the parts our parser must
 * skip or tell apart: an instance-store (ephemeral) mapping and a
 * "no device" one, which have no snapshot; an EBS mapping of a pending
 * image that has no snapshot yet; productCodes and stateReason, whose
 * children are not the image's.
 */
static const char images_page[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<DescribeImagesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
	"    <requestId>59dbff89-35bd-4eac-99ed-be587example</requestId>\n"
	"    <imagesSet>\n"
	"        <item>\n"
	"            <imageId>ami-0a1b2c3d4e5f60001</imageId>\n"
	"            <imageLocation>123456789012/devbox-2026-11-20</imageLocation>\n"
	"            <imageState>available</imageState>\n"
	"            <imageOwnerId>123456789012</imageOwnerId>\n"
	"            <creationDate>2026-11-20T03:00:00.000Z</creationDate>\n"
	"            <isPublic>false</isPublic>\n"
	"            <productCodes>\n"
	"                <item><productCode>a1b2c3d4e5f6g7h8i9j0k1l2m</productCode><type>marketplace</type></item>\n"
	"            </productCodes>\n"
	"            <architecture>x86_64</architecture>\n"
	"            <imageType>machine</imageType>\n"
	"            <name>devbox-2026-11-20</name>\n"
	"            <description>nightly dev box image</description>\n"
	"            <rootDeviceType>ebs</rootDeviceType>\n"
	"            <rootDeviceName>/dev/xvda</rootDeviceName>\n"
	"            <blockDeviceMapping>\n"
	"                <item>\n"
	"                    <deviceName>/dev/xvda</deviceName>\n"
	"                    <ebs>\n"
	"                        <snapshotId>snap-0a1b2c3d4e5f60001</snapshotId>\n"
	"                        <volumeSize>30</volumeSize>\n"
	"                        <deleteOnTermination>true</deleteOnTermination>\n"
	"                        <volumeType>gp3</volumeType>\n"
	"                        <iops>3000</iops>\n"
	"                        <throughput>125</throughput>\n"
	"                        <encrypted>false</encrypted>\n"
	"                    </ebs>\n"
	"                </item>\n"
	"                <item>\n"
	"                    <deviceName>/dev/sdb</deviceName>\n"
	"                    <virtualName>ephemeral0</virtualName>\n"
	"                </item>\n"
	"                <item>\n"
	"                    <deviceName>/dev/xvdf</deviceName>\n"
	"                    <ebs>\n"
	"                        <snapshotId>snap-0a1b2c3d4e5f60002</snapshotId>\n"
	"                        <volumeSize>100</volumeSize>\n"
	"                        <deleteOnTermination>true</deleteOnTermination>\n"
	"                        <volumeType>gp3</volumeType>\n"
	"                    </ebs>\n"
	"                </item>\n"
	"                <item>\n"
	"                    <deviceName>/dev/sdc</deviceName>\n"
	"                    <noDevice/>\n"
	"                </item>\n"
	"            </blockDeviceMapping>\n"
	"            <virtualizationType>hvm</virtualizationType>\n"
	"            <tagSet>\n"
	"                <item><key>devcloud:role</key><value>devbox-image</value></item>\n"
	"                <item><key>Name</key><value>devbox 2026-11-20</value></item>\n"
	"                <item><key>devcloud:keep</key><value/></item>\n"
	"            </tagSet>\n"
	"            <hypervisor>xen</hypervisor>\n"
	"            <enaSupport>true</enaSupport>\n"
	"            <platformDetails>Linux/UNIX</platformDetails>\n"
	"            <usageOperation>RunInstances</usageOperation>\n"
	"            <bootMode>uefi-preferred</bootMode>\n"
	"            <deprecationTime>2028-11-20T03:00:00.000Z</deprecationTime>\n"
	"            <imdsSupport>v2.0</imdsSupport>\n"
	"        </item>\n"
	"        <item>\n"
	"            <imageId>ami-0a1b2c3d4e5f60002</imageId>\n"
	"            <imageLocation>123456789012/</imageLocation>\n"
	"            <imageState>pending</imageState>\n"
	"            <imageOwnerId>123456789012</imageOwnerId>\n"
	"            <creationDate>2026-11-25T03:12:45.000Z</creationDate>\n"
	"            <isPublic>false</isPublic>\n"
	"            <architecture>arm64</architecture>\n"
	"            <imageType>machine</imageType>\n"
	"            <rootDeviceType>ebs</rootDeviceType>\n"
	"            <rootDeviceName>/dev/xvda</rootDeviceName>\n"
	"            <blockDeviceMapping>\n"
	"                <item>\n"
	"                    <deviceName>/dev/xvda</deviceName>\n"
	"                    <ebs>\n"
	"                        <volumeSize>30</volumeSize>\n"
	"                        <deleteOnTermination>true</deleteOnTermination>\n"
	"                    </ebs>\n"
	"                </item>\n"
	"            </blockDeviceMapping>\n"
	"            <virtualizationType>hvm</virtualizationType>\n"
	"            <hypervisor>xen</hypervisor>\n"
	"        </item>\n"
	"        <item>\n"
	"            <imageId>ami-0a1b2c3d</imageId>\n"
	"            <imageState>failed</imageState>\n"
	"            <creationDate>2026-10-01T00:00:00Z</creationDate>\n"
	"            <name>devbox-2026-10-01</name>\n"
	"            <stateReason>\n"
	"                <code>Client.InvalidSnapshot.NotFound</code>\n"
	"                <message>The snapshot 'snap-0dead' does not exist.</message>\n"
	"            </stateReason>\n"
	"            <blockDeviceMapping/>\n"
	"            <tagSet/>\n"
	"        </item>\n"
	"    </imagesSet>\n"
	"    <nextToken>eyJ2IjoiMSIsImMiOiJpbWFnZXMifQ==</nextToken>\n"
	"</DescribeImagesResponse>\n";

#define MAX_SNAPSHOTS 3

struct image_case {
	const char *id;
	const char *name;
	const char *state;
	const char *creation_date;
	int64_t creation_time;
	const char *owner_id;
	size_t snapshot_count;
	const char *snapshots[MAX_SNAPSHOTS];
	size_t tag_count;
	struct ec2_tag tags[MAX_TAGS];
};

static struct image_case image_cases[] = {
	{ "ami-0a1b2c3d4e5f60001", "devbox-2026-11-20", "available", "2026-11-20T03:00:00.000Z",
	  1795143600, "123456789012", 2,
	  { "snap-0a1b2c3d4e5f60001", "snap-0a1b2c3d4e5f60002" /* ephemeral and noDevice skipped */ },
	  3,
	  { { (char *)"devcloud:role", (char *)"devbox-image" },
	    { (char *)"Name", (char *)"devbox 2026-11-20" },
	    { (char *)"devcloud:keep", (char *)"" } } },
	{ "ami-0a1b2c3d4e5f60002", "" /* no name */, "pending", "2026-11-25T03:12:45.000Z",
	  1795576365, "123456789012", 0 /* EBS mapping without a snapshot yet */, { NULL }, 0,
	  { { NULL, NULL } } },
	{ "ami-0a1b2c3d", "devbox-2026-10-01", "failed", "2026-10-01T00:00:00Z", 1790812800,
	  "" /* no owner */, 0, { NULL }, 0, { { NULL, NULL } } },
};

static struct xml_node *images_root;
static struct ec2_image_list images_list = EC2_IMAGE_LIST_INIT;

static int images_setup(void **state)
{
	(void)state;
	images_root = parse_fixture(images_page, "images_page");
	return images_root && ec2_parse_images(images_root, &images_list) == 0 ? 0 : -1;
}

static int images_teardown(void **state)
{
	(void)state;
	ec2_image_list_release(&images_list);
	xml_free(images_root);
	return 0;
}

static void test_image(void **state)
{
	const struct image_case *c = *state;
	const struct ec2_image *image;

	assert_int_equal(images_list.count, ARRAY_SIZE(image_cases));
	image = &images_list.items[c - image_cases];	/* document order */
	assert_string_equal(image->id, c->id);
	assert_string_equal(image->name, c->name);
	assert_string_equal(image->state, c->state);
	assert_string_equal(image->creation_date, c->creation_date);
	assert_int_equal(image->creation_time, c->creation_time);
	assert_string_equal(image->owner_id, c->owner_id);
	assert_int_equal(image->snapshot_count, c->snapshot_count);
	for (size_t i = 0; i < c->snapshot_count; i++)
		assert_string_equal(image->snapshot_ids[i], c->snapshots[i]);
	assert_int_equal(image->tag_count, c->tag_count);
	for (size_t i = 0; i < c->tag_count; i++) {
		assert_string_equal(image->tags[i].key, c->tags[i].key);
		assert_string_equal(image->tags[i].value, c->tags[i].value);
		assert_string_equal(ec2_image_tag(image, c->tags[i].key), c->tags[i].value);
	}
	assert_null(ec2_image_tag(image, "devcloud:missing"));
	assert_null(ec2_image_tag(image, "name"));	/* keys are case-sensitive */
}

/* A second page appends to the first; release empties the list. */
static void test_image_pages_append(void **state)
{
	static const char page2[] =
		"<DescribeImagesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
		"<requestId>0f0e0d0c-0b0a-4909-8807-060504030201</requestId>"
		"<imagesSet><item><imageId>ami-0a1b2c3d4e5f60004</imageId>"
		"<imageState>available</imageState>"
		"<creationDate>2024-02-29T12:00:00.000Z</creationDate></item></imagesSet>"
		"</DescribeImagesResponse>";
	struct ec2_image_list list = EC2_IMAGE_LIST_INIT;
	struct xml_node *root;

	(void)state;
	assert_int_equal(ec2_parse_images(images_root, &list), 0);
	assert_int_equal(xml_parse(view_from(page2), &root, NULL), 0);
	assert_int_equal(ec2_parse_images(root, &list), 0);
	assert_int_equal(list.count, 4);
	assert_string_equal(list.items[0].id, "ami-0a1b2c3d4e5f60001");
	assert_string_equal(list.items[3].id, "ami-0a1b2c3d4e5f60004");
	assert_int_equal(list.items[3].creation_time, 1709208000);	/* a leap day */
	xml_free(root);
	ec2_image_list_release(&list);
	assert_null(list.items);
	assert_int_equal(list.count, 0);
	assert_int_equal(list.cap, 0);
	ec2_image_list_release(&list);	/* twice is harmless */
}

/* DescribeImages documents with one image (or none), and what comes of them. */
struct image_page_case {
	const char *name;
	const char *doc;
	int err;
	size_t count;		/* images in the list afterwards */
	int64_t creation_time;	/* of the first image, when there is one */
};

#define IMG_DOC(items) \
	"<DescribeImagesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">" \
	"<requestId>1b2c3d4e-0000-4000-8000-000000000000</requestId>" \
	"<imagesSet>" items "</imagesSet></DescribeImagesResponse>"
#define IMG(id, state, date) \
	"<item><imageId>" id "</imageId><imageState>" state "</imageState>" \
	"<creationDate>" date "</creationDate></item>"

static struct image_page_case image_page_cases[] = {
	{ "empty-images-set", IMG_DOC(""), 0, 0, 0 },
	{ "no-images-set",
	  "<DescribeImagesResponse><requestId>r</requestId></DescribeImagesResponse>", 0, 0, 0 },
	{ "fractional-seconds", IMG_DOC(IMG("ami-1", "available", "2026-11-25T03:12:45.000Z")), 0,
	  1, 1795576365 },
	{ "whole-seconds", IMG_DOC(IMG("ami-1", "available", "2026-11-25T03:12:45Z")), 0, 1,
	  1795576365 },
	{ "offset", IMG_DOC(IMG("ami-1", "available", "2026-11-25T04:12:45+01:00")), 0, 1,
	  1795576365 },
	{ "other-root-with-images-set",
	  "<SomethingElse><imagesSet>" IMG("ami-1", "available", "2026-11-25T03:12:45Z")
	  "</imagesSet></SomethingElse>",
	  0, 1, 1795576365 },

	{ "error-document",
	  "<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to "
	  "validate the provided access credentials</Message></Error></Errors>"
	  "<RequestID>b5e5d5c5-0000-4000-8000-000000000000</RequestID></Response>",
	  ERR_PARSE, 0, 0 },
	{ "instances-page", "<DescribeInstancesResponse><reservationSet/></DescribeInstancesResponse>",
	  ERR_PARSE, 0, 0 },
	{ "no-id", IMG_DOC("<item><imageState>available</imageState>"
			   "<creationDate>2026-11-25T03:12:45.000Z</creationDate></item>"),
	  ERR_PARSE, 0, 0 },
	{ "empty-id", IMG_DOC(IMG("", "available", "2026-11-25T03:12:45.000Z")), ERR_PARSE, 0, 0 },
	{ "no-state", IMG_DOC("<item><imageId>ami-1</imageId>"
			      "<creationDate>2026-11-25T03:12:45.000Z</creationDate></item>"),
	  ERR_PARSE, 0, 0 },
	{ "empty-state", IMG_DOC(IMG("ami-1", "", "2026-11-25T03:12:45.000Z")), ERR_PARSE, 0, 0 },
	{ "no-creation-date",
	  IMG_DOC("<item><imageId>ami-1</imageId><imageState>available</imageState></item>"),
	  ERR_PARSE, 0, 0 },
	{ "empty-creation-date", IMG_DOC(IMG("ami-1", "available", "")), ERR_PARSE, 0, 0 },
	{ "words-for-a-date", IMG_DOC(IMG("ami-1", "available", "yesterday")), ERR_PARSE, 0, 0 },
	{ "impossible-date", IMG_DOC(IMG("ami-1", "available", "2026-02-30T00:00:00.000Z")),
	  ERR_PARSE, 0, 0 },
	{ "date-without-time", IMG_DOC(IMG("ami-1", "available", "2026-11-25")), ERR_PARSE, 0, 0 },
	{ "trailing-garbage", IMG_DOC(IMG("ami-1", "available", "2026-11-25T03:12:45.000Zjunk")),
	  ERR_PARSE, 0, 0 },
	/* what was appended before the bad image stays for the caller to release */
	{ "bad-second-image",
	  IMG_DOC(IMG("ami-1", "available", "2026-11-25T03:12:45Z")
		  IMG("ami-2", "available", "soon")),
	  ERR_PARSE, 1, 1795576365 },
};

static void test_image_page(void **state)
{
	const struct image_page_case *c = *state;
	struct ec2_image_list list = EC2_IMAGE_LIST_INIT;
	struct xml_node *root;

	assert_int_equal(xml_parse(view_from(c->doc), &root, NULL), 0);
	assert_int_equal(ec2_parse_images(root, &list), c->err);
	assert_int_equal(list.count, c->count);
	if (c->count) {
		assert_int_equal(list.items[0].creation_time, c->creation_time);
		assert_string_equal(list.items[0].name, "");
		assert_string_equal(list.items[0].owner_id, "");
		assert_int_equal(list.items[0].snapshot_count, 0);
		assert_int_equal(list.items[0].tag_count, 0);
	}
	ec2_image_list_release(&list);
	xml_free(root);
}

/* ---- DescribeLaunchTemplateVersions ---- */

/*
 * Shaped after AWS's documented answer. launchTemplateData carries nested
 * sets (network interfaces, block devices with snapshots, tag
 * specifications) whose children must not be taken for the version's.
 */
static const char lt_page[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<DescribeLaunchTemplateVersionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
	"    <requestId>65cadec1-b364-4354-8ca8-4176dexample</requestId>\n"
	"    <launchTemplateVersionSet>\n"
	"        <item>\n"
	"            <createTime>2026-11-20T04:00:00.000Z</createTime>\n"
	"            <createdBy>arn:aws:iam::123456789012:role/image-builder</createdBy>\n"
	"            <defaultVersion>false</defaultVersion>\n"
	"            <launchTemplateData>\n"
	"                <blockDeviceMappingSet>\n"
	"                    <item>\n"
	"                        <deviceName>/dev/xvda</deviceName>\n"
	"                        <ebs><snapshotId>snap-0a1b2c3d4e5f60001</snapshotId><volumeSize>30</volumeSize></ebs>\n"
	"                    </item>\n"
	"                </blockDeviceMappingSet>\n"
	"                <imageId>ami-0a1b2c3d4e5f60001</imageId>\n"
	"                <instanceType>t3.large</instanceType>\n"
	"                <networkInterfaceSet>\n"
	"                    <item>\n"
	"                        <deviceIndex>0</deviceIndex>\n"
	"                        <subnetId>subnet-56f5f633</subnetId>\n"
	"                    </item>\n"
	"                </networkInterfaceSet>\n"
	"                <tagSpecificationSet>\n"
	"                    <item>\n"
	"                        <resourceType>instance</resourceType>\n"
	"                        <tagSet><item><key>devcloud:role</key><value>devbox</value></item></tagSet>\n"
	"                    </item>\n"
	"                </tagSpecificationSet>\n"
	"            </launchTemplateData>\n"
	"            <launchTemplateId>lt-0a1b2c3d4e5f60001</launchTemplateId>\n"
	"            <launchTemplateName>devbox</launchTemplateName>\n"
	"            <versionDescription>nightly image 2026-11-20</versionDescription>\n"
	"            <versionNumber>3</versionNumber>\n"
	"        </item>\n"
	"        <item>\n"
	"            <createTime>2026-09-01T10:00:00.000Z</createTime>\n"
	"            <createdBy>arn:aws:iam::123456789012:user/alice</createdBy>\n"
	"            <defaultVersion>true</defaultVersion>\n"
	"            <launchTemplateData>\n"
	"                <imageId>resolve:ssm:/devcloud/devbox-ami</imageId>\n"
	"                <instanceType>t3.large</instanceType>\n"
	"            </launchTemplateData>\n"
	"            <launchTemplateId>lt-0a1b2c3d4e5f60001</launchTemplateId>\n"
	"            <launchTemplateName>devbox</launchTemplateName>\n"
	"            <versionNumber>1</versionNumber>\n"
	"        </item>\n"
	"        <item>\n"
	"            <createTime>2026-10-05T08:30:00.000Z</createTime>\n"
	"            <createdBy>arn:aws:iam::123456789012:user/bob</createdBy>\n"
	"            <defaultVersion>true</defaultVersion>\n"
	"            <launchTemplateData>\n"
	"                <instanceRequirements><vCpuCount><min>2</min></vCpuCount></instanceRequirements>\n"
	"            </launchTemplateData>\n"
	"            <launchTemplateId>lt-0f0e0d0c0b0a09080</launchTemplateId>\n"
	"            <launchTemplateName>drone-agents</launchTemplateName>\n"
	"            <versionNumber>12</versionNumber>\n"
	"        </item>\n"
	"    </launchTemplateVersionSet>\n"
	"    <nextToken>eyJ2IjoiMSIsImMiOiJsdCJ9</nextToken>\n"
	"</DescribeLaunchTemplateVersionsResponse>\n";

struct lt_case {
	const char *template_id;
	const char *template_name;
	long version;
	bool is_default;
	const char *image_id;
};

static struct lt_case lt_cases[] = {
	{ "lt-0a1b2c3d4e5f60001", "devbox", 3, false, "ami-0a1b2c3d4e5f60001" },
	{ "lt-0a1b2c3d4e5f60001", "devbox", 1, true, "resolve:ssm:/devcloud/devbox-ami" },
	{ "lt-0f0e0d0c0b0a09080", "drone-agents", 12, true, NULL /* no image */ },
};

static void test_lt_page(void **state)
{
	struct ec2_launch_template_version_list list = EC2_LAUNCH_TEMPLATE_VERSION_LIST_INIT;
	struct xml_node *root;

	(void)state;
	assert_int_equal(xml_parse(view_from(lt_page), &root, NULL), 0);
	assert_int_equal(ec2_parse_launch_template_versions(root, &list), 0);
	assert_int_equal(list.count, ARRAY_SIZE(lt_cases));
	for (size_t i = 0; i < list.count; i++) {
		const struct lt_case *c = &lt_cases[i];
		const struct ec2_launch_template_version *v = &list.items[i];

		assert_string_equal(v->template_id, c->template_id);
		assert_string_equal(v->template_name, c->template_name);
		assert_int_equal(v->version, c->version);
		assert_int_equal(v->is_default, c->is_default);
		assert_opt_string(v->image_id, c->image_id);
	}
	/* a second page appends */
	assert_int_equal(ec2_parse_launch_template_versions(root, &list), 0);
	assert_int_equal(list.count, 2 * ARRAY_SIZE(lt_cases));
	assert_int_equal(list.items[5].version, 12);
	ec2_launch_template_version_list_release(&list);
	assert_null(list.items);
	assert_int_equal(list.count, 0);
	ec2_launch_template_version_list_release(&list);	/* twice is harmless */
	xml_free(root);
}

struct lt_page_case {
	const char *name;
	const char *doc;
	int err;
	size_t count;
	long version;		/* of the first item, when there is one */
};

#define LT_DOC(items) \
	"<DescribeLaunchTemplateVersionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">" \
	"<requestId>65cadec1-0000-4000-8000-000000000000</requestId>" \
	"<launchTemplateVersionSet>" items "</launchTemplateVersionSet>" \
	"</DescribeLaunchTemplateVersionsResponse>"
#define LT(id, number) \
	"<item><launchTemplateId>" id "</launchTemplateId><versionNumber>" number \
	"</versionNumber></item>"

static struct lt_page_case lt_page_cases[] = {
	{ "empty-set", LT_DOC(""), 0, 0, 0 },
	{ "no-set",
	  "<DescribeLaunchTemplateVersionsResponse><requestId>r</requestId>"
	  "</DescribeLaunchTemplateVersionsResponse>",
	  0, 0, 0 },
	{ "bare-item", LT_DOC(LT("lt-1", "7")), 0, 1, 7 },
	{ "large-version", LT_DOC(LT("lt-1", "2147483648")), 0, 1, 2147483648L },

	{ "error-document",
	  "<Response><Errors><Error><Code>InvalidLaunchTemplateId.NotFound</Code><Message>The "
	  "specified launch template, with template ID lt-1, does not exist.</Message></Error>"
	  "</Errors><RequestID>r</RequestID></Response>",
	  ERR_PARSE, 0, 0 },
	{ "no-template-id", LT_DOC("<item><versionNumber>1</versionNumber></item>"), ERR_PARSE, 0,
	  0 },
	{ "empty-template-id", LT_DOC(LT("", "1")), ERR_PARSE, 0, 0 },
	{ "no-version", LT_DOC("<item><launchTemplateId>lt-1</launchTemplateId></item>"), ERR_PARSE,
	  0, 0 },
	{ "empty-version", LT_DOC(LT("lt-1", "")), ERR_PARSE, 0, 0 },
	{ "version-zero", LT_DOC(LT("lt-1", "0")), ERR_PARSE, 0, 0 },
	{ "negative-version", LT_DOC(LT("lt-1", "-1")), ERR_PARSE, 0, 0 },
	{ "plus-sign", LT_DOC(LT("lt-1", "+1")), ERR_PARSE, 0, 0 },
	{ "leading-space", LT_DOC(LT("lt-1", " 1")), ERR_PARSE, 0, 0 },
	{ "fraction", LT_DOC(LT("lt-1", "1.5")), ERR_PARSE, 0, 0 },
	{ "word", LT_DOC(LT("lt-1", "$Latest")), ERR_PARSE, 0, 0 },
	{ "overflow", LT_DOC(LT("lt-1", "99999999999999999999")), ERR_PARSE, 0, 0 },
	{ "bad-second-item", LT_DOC(LT("lt-1", "2") LT("lt-1", "two")), ERR_PARSE, 1, 2 },
};

static void test_lt_page_case(void **state)
{
	const struct lt_page_case *c = *state;
	struct ec2_launch_template_version_list list = EC2_LAUNCH_TEMPLATE_VERSION_LIST_INIT;
	struct xml_node *root;

	assert_int_equal(xml_parse(view_from(c->doc), &root, NULL), 0);
	assert_int_equal(ec2_parse_launch_template_versions(root, &list), c->err);
	assert_int_equal(list.count, c->count);
	if (c->count) {
		assert_int_equal(list.items[0].version, c->version);
		assert_string_equal(list.items[0].template_name, "");	/* absent */
		assert_false(list.items[0].is_default);
		assert_null(list.items[0].image_id);
	}
	ec2_launch_template_version_list_release(&list);
	xml_free(root);
}

/* ---- calls: what is sent, pages, errors ---- */

#define EC2_NS "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""
#define EC2_ERROR(code, msg) \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>" code \
	"</Code><Message>" msg "</Message></Error></Errors>" \
	"<RequestID>c0ffee00-0000-4000-8000-000000000000</RequestID></Response>"
#define DRY_RUN_OK EC2_ERROR("DryRunOperation", "Request would have succeeded, but DryRun flag is set.")

struct call_fixture {
	struct fake_aws fake;
	struct aws_client *aws;
};

static struct call_fixture *call_fixture_new(void)
{
	struct call_fixture *fx = xcalloc(1, sizeof(*fx));

	fake_aws_init(&fx->fake);
	fx->aws = fake_aws_client(&fx->fake, 1);	/* no retries: one answer per call */
	return fx;
}

static void call_fixture_free(struct call_fixture *fx)
{
	aws_client_free(fx->aws);
	fake_aws_release(&fx->fake);
	free(fx);
}

static const char *sent(const struct call_fixture *fx, size_t i)
{
	assert_true(i < fx->fake.calls);
	return buf_cstr(&fx->fake.bodies[i]);
}

/* DescribeImages requests: the parameters each query sends. */
struct images_request_case {
	const char *name;
	const char *const *owners;
	const char *filters;	/* ec2_filters_parse() spec, or NULL */
	bool include_deprecated;
	bool include_disabled;
	const char *body;
};

static const char *const owners_self[] = { "self", NULL };
static const char *const owners_two[] = { "self", "amazon", NULL };
static const char *const owners_none[] = { NULL };

static struct images_request_case images_request_cases[] = {
	{ "nothing", NULL, NULL, false, false,
	  "Action=DescribeImages&Version=2016-11-15&MaxResults=1000" },
	{ "owners-none", owners_none, NULL, false, false,
	  "Action=DescribeImages&Version=2016-11-15&MaxResults=1000" },
	{ "self-and-filters", owners_self, "tag:devcloud:role=devbox-image;state=available,failed",
	  false, false,
	  "Action=DescribeImages&Version=2016-11-15&Owner.1=self"
	  "&Filter.1.Name=tag%3Adevcloud%3Arole&Filter.1.Value.1=devbox-image"
	  "&Filter.2.Name=state&Filter.2.Value.1=available&Filter.2.Value.2=failed"
	  "&MaxResults=1000" },
	{ "two-owners-deprecated", owners_two, "name=devbox-*", true, false,
	  "Action=DescribeImages&Version=2016-11-15&Owner.1=self&Owner.2=amazon"
	  "&Filter.1.Name=name&Filter.1.Value.1=devbox-%2A&IncludeDeprecated=true"
	  "&MaxResults=1000" },
	{ "disabled-only", owners_self, NULL, false, true,
	  "Action=DescribeImages&Version=2016-11-15&Owner.1=self&IncludeDisabled=true"
	  "&MaxResults=1000" },
	{ "both-flags", NULL, NULL, true, true,
	  "Action=DescribeImages&Version=2016-11-15&IncludeDeprecated=true&IncludeDisabled=true"
	  "&MaxResults=1000" },
};

static void test_images_request(void **state)
{
	const struct images_request_case *c = *state;
	struct call_fixture *fx = call_fixture_new();
	struct ec2_filter_list filters = EC2_FILTER_LIST_INIT;
	struct ec2_image_list list = EC2_IMAGE_LIST_INIT;
	struct buf errmsg = BUF_INIT;
	struct aws_error e;

	if (c->filters)
		assert_int_equal(ec2_filters_parse(c->filters, "IMAGE_FILTERS", &filters, &errmsg), 0);
	struct ec2_image_query q = { c->owners, c->filters ? &filters : NULL,
				     c->include_deprecated, c->include_disabled };
	fake_aws_answer(&fx->fake, 200,
			"<DescribeImagesResponse " EC2_NS "><requestId>r</requestId><imagesSet/>"
			"</DescribeImagesResponse>");
	assert_int_equal(ec2_describe_images(fx->aws, &q, &list, &e), 0);
	assert_int_equal(fx->fake.calls, 1);
	assert_string_equal(sent(fx, 0), c->body);
	assert_int_equal(list.count, 0);
	ec2_filters_release(&filters);
	buf_release(&errmsg);
	call_fixture_free(fx);
}

#define IMAGES_PAGE(items, token) \
	"<DescribeImagesResponse " EC2_NS "><requestId>r</requestId><imagesSet>" items \
	"</imagesSet>" token "</DescribeImagesResponse>"

/* Three pages: NextToken goes back with the same parameters, the list is their union. */
static void test_images_pagination(void **state)
{
	static const char *const owners[] = { "self", NULL };
	struct call_fixture *fx = call_fixture_new();
	struct ec2_image_list list = EC2_IMAGE_LIST_INIT;
	struct ec2_image_query q = { owners, NULL, false, false };
	struct aws_error e;

	(void)state;
	fake_aws_answer(&fx->fake, 200,
			IMAGES_PAGE(IMG("ami-01", "available", "2026-11-20T03:00:00.000Z")
				    IMG("ami-02", "available", "2026-11-21T03:00:00.000Z"),
				    "<nextToken>page+2/token==</nextToken>"));
	fake_aws_answer(&fx->fake, 200,
			IMAGES_PAGE("", "<nextToken>page-3</nextToken>"));	/* empty page */
	fake_aws_answer(&fx->fake, 200,
			IMAGES_PAGE(IMG("ami-03", "pending", "2026-11-25T03:12:45.000Z"), ""));
	assert_int_equal(ec2_describe_images(fx->aws, &q, &list, &e), 0);
	assert_int_equal(fx->fake.calls, 3);
	assert_string_equal(sent(fx, 0), "Action=DescribeImages&Version=2016-11-15&Owner.1=self"
					 "&MaxResults=1000");
	assert_string_equal(sent(fx, 1), "Action=DescribeImages&Version=2016-11-15&Owner.1=self"
					 "&MaxResults=1000&NextToken=page%2B2%2Ftoken%3D%3D");
	assert_string_equal(sent(fx, 2), "Action=DescribeImages&Version=2016-11-15&Owner.1=self"
					 "&MaxResults=1000&NextToken=page-3");
	assert_int_equal(list.count, 3);
	assert_string_equal(list.items[0].id, "ami-01");
	assert_string_equal(list.items[1].id, "ami-02");
	assert_string_equal(list.items[2].id, "ami-03");
	assert_int_equal(list.items[2].creation_time, 1795576365);
	ec2_image_list_release(&list);
	call_fixture_free(fx);
}

/*
 * A page cut after its first image (a 200 whose body stops half-way) is
 * asked again: the images the cut attempt delivered are dropped, so the
 * second page's answer does not add them twice.
 */
static void test_images_cut_page_retried(void **state)
{
	static const char *const owners[] = { "self", NULL };
	struct fake_aws fake;
	struct aws_client *aws;
	struct ec2_image_list list = EC2_IMAGE_LIST_INIT;
	struct ec2_image_query q = { owners, NULL, false, false };
	struct aws_error e;
	static const char page1[] =
		IMAGES_PAGE(IMG("ami-01", "available", "2026-11-20T03:00:00.000Z"),
			    "<nextToken>t2</nextToken>");
	static const char page2[] =
		IMAGES_PAGE(IMG("ami-02", "available", "2026-11-21T03:00:00.000Z")
			    IMG("ami-03", "available", "2026-11-22T03:00:00.000Z"), "");
	char cut[sizeof(page2)];
	const char *second = strstr(page2, "<item><imageId>ami-03");

	(void)state;
	assert_non_null(second);
	memcpy(cut, page2, (size_t)(second - page2));
	cut[second - page2] = '\0';
	fake_aws_init(&fake);
	aws = fake_aws_client(&fake, 3);
	fake_aws_answer(&fake, 200, page1);
	fake_aws_answer(&fake, 200, cut);	/* ami-02 arrives, then the body stops */
	fake_aws_answer(&fake, 200, page2);
	assert_int_equal(ec2_describe_images(aws, &q, &list, &e), 0);
	assert_int_equal(fake.calls, 3);
	assert_int_equal(list.count, 3);
	assert_string_equal(list.items[0].id, "ami-01");
	assert_string_equal(list.items[1].id, "ami-02");
	assert_string_equal(list.items[2].id, "ami-03");
	ec2_image_list_release(&list);

	/* cut on every attempt: an error, and nothing at all */
	fake_aws_release(&fake);
	aws_client_free(aws);
	fake_aws_init(&fake);
	aws = fake_aws_client(&fake, 2);
	fake_aws_answer(&fake, 200, page1);
	fake_aws_answer(&fake, 200, cut);
	fake_aws_answer(&fake, 200, cut);
	assert_int_equal(ec2_describe_images(aws, &q, &list, &e), ERR_PARSE);
	assert_non_null(strstr(e.message, "malformed response to DescribeImages"));
	assert_int_equal(list.count, 0);
	assert_null(list.items);
	aws_client_free(aws);
	fake_aws_release(&fake);
}

/* Listings that fail after a good first page: the caller gets no images at all. */
struct images_failure_case {
	const char *name;
	int transport_err;	/* of the second call, or 0 to answer it */
	long status;
	const char *body;
	int err;
	long http_status;
	const char *code;
};

static struct images_failure_case images_failure_cases[] = {
	{ "denied", 0, 403,
	  EC2_ERROR("UnauthorizedOperation", "You are not authorized to perform this operation."),
	  ERR_AWS, 403, "UnauthorizedOperation" },
	{ "bad-token", 0, 400,
	  EC2_ERROR("InvalidParameterValue", "The value for nextToken is invalid."), ERR_AWS, 400,
	  "InvalidParameterValue" },
	{ "unreadable-image", 0, 200,
	  IMAGES_PAGE("<item><imageId>ami-09</imageId><imageState>available</imageState></item>", ""),
	  ERR_PARSE, 200, "" },
	{ "not-xml", 0, 200, "<DescribeImagesResponse><imagesSet>", ERR_PARSE, 200, "" },
	{ "transport", ERR_HTTP, 0, NULL, ERR_HTTP, 0, "" },
};

static void test_images_failure(void **state)
{
	const struct images_failure_case *c = *state;
	struct call_fixture *fx = call_fixture_new();
	struct ec2_image_list list = EC2_IMAGE_LIST_INIT;
	struct ec2_image_query q = { NULL, NULL, false, false };
	struct aws_error e;

	fake_aws_answer(&fx->fake, 200,
			IMAGES_PAGE(IMG("ami-01", "available", "2026-11-20T03:00:00.000Z"),
				    "<nextToken>t2</nextToken>"));
	if (c->transport_err)
		fake_aws_fail(&fx->fake, c->transport_err);
	else
		fake_aws_answer(&fx->fake, c->status, c->body);
	assert_int_equal(ec2_describe_images(fx->aws, &q, &list, &e), c->err);
	assert_int_equal(fx->fake.calls, 2);
	assert_true(fake_aws_body_has(&fx->fake, 1, "&NextToken=t2"));
	assert_int_equal(list.count, 0);
	assert_null(list.items);
	assert_int_equal(e.err, c->err);
	assert_int_equal(e.http_status, c->http_status);
	assert_string_equal(e.code, c->code);
	assert_true(e.message[0] != '\0');
	assert_null(strstr(e.message, "secret-test-key"));
	call_fixture_free(fx);
}

/* The single-shot calls, with and without DryRun. */
enum call_op { OP_TERMINATE, OP_DEREGISTER, OP_DELETE_SNAPSHOT, OP_STOP };

struct call_case {
	const char *name;
	enum call_op op;
	bool dry_run;
	long status;
	const char *answer;
	int err;
	const char *code;	/* in struct aws_error afterwards */
	const char *message;	/* a part of it */
	const char *body;	/* what was sent */
};

#define TERMINATE_OK \
	"<TerminateInstancesResponse " EC2_NS "><requestId>r</requestId><instancesSet><item>" \
	"<instanceId>i-0a1a1a1a1a1a1a1a1</instanceId><currentState><code>32</code><name>" \
	"shutting-down</name></currentState><previousState><code>16</code><name>running</name>" \
	"</previousState></item></instancesSet></TerminateInstancesResponse>"
#define DEREGISTER_OK \
	"<DeregisterImageResponse " EC2_NS "><requestId>r</requestId><return>true</return>" \
	"</DeregisterImageResponse>"
#define DELETE_SNAPSHOT_OK \
	"<DeleteSnapshotResponse " EC2_NS "><requestId>r</requestId><return>true</return>" \
	"</DeleteSnapshotResponse>"
#define TERMINATE_BODY \
	"Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-0a1a1a1a1a1a1a1a1" \
	"&InstanceId.2=i-0b2b2b2b2b2b2b2b2"

static struct call_case call_cases[] = {
	{ "terminate", OP_TERMINATE, false, 200, TERMINATE_OK, 0, "", NULL, TERMINATE_BODY },
	{ "terminate-dry-run", OP_TERMINATE, true, 412, DRY_RUN_OK, 0, "", NULL,
	  TERMINATE_BODY "&DryRun=true" },
	{ "terminate-dry-run-denied", OP_TERMINATE, true, 403,
	  EC2_ERROR("UnauthorizedOperation", "You are not authorized to perform this operation."),
	  ERR_AWS, "UnauthorizedOperation", "not authorized", TERMINATE_BODY "&DryRun=true" },
	{ "terminate-dry-run-answered-success", OP_TERMINATE, true, 200, TERMINATE_OK, ERR_PARSE, "",
	  "TerminateInstances answered a dry run with success", TERMINATE_BODY "&DryRun=true" },
	{ "terminate-protected", OP_TERMINATE, false, 400,
	  EC2_ERROR("OperationNotPermitted", "The instance 'i-0a1a1a1a1a1a1a1a1' may not be "
		    "terminated. Modify its 'disableApiTermination' instance attribute and try "
		    "again."),
	  ERR_AWS, "OperationNotPermitted", "may not be terminated", TERMINATE_BODY },
	/* without DryRun, DryRunOperation is an error like any other */
	{ "terminate-unasked-dry-run-answer", OP_TERMINATE, false, 412, DRY_RUN_OK, ERR_AWS,
	  "DryRunOperation", "DryRun flag is set", TERMINATE_BODY },
	{ "deregister", OP_DEREGISTER, false, 200, DEREGISTER_OK, 0, "", NULL,
	  "Action=DeregisterImage&Version=2016-11-15&ImageId=ami-0a1b2c3d4e5f60001" },
	{ "deregister-dry-run", OP_DEREGISTER, true, 412, DRY_RUN_OK, 0, "", NULL,
	  "Action=DeregisterImage&Version=2016-11-15&ImageId=ami-0a1b2c3d4e5f60001&DryRun=true" },
	{ "deregister-gone", OP_DEREGISTER, false, 400,
	  EC2_ERROR("InvalidAMIID.Unavailable", "The image ID 'ami-0a1b2c3d4e5f60001' is no longer "
		    "available"),
	  ERR_AWS, "InvalidAMIID.Unavailable", "no longer available",
	  "Action=DeregisterImage&Version=2016-11-15&ImageId=ami-0a1b2c3d4e5f60001" },
	{ "delete-snapshot", OP_DELETE_SNAPSHOT, false, 200, DELETE_SNAPSHOT_OK, 0, "", NULL,
	  "Action=DeleteSnapshot&Version=2016-11-15&SnapshotId=snap-0a1b2c3d4e5f60001" },
	{ "delete-snapshot-dry-run", OP_DELETE_SNAPSHOT, true, 412, DRY_RUN_OK, 0, "", NULL,
	  "Action=DeleteSnapshot&Version=2016-11-15&SnapshotId=snap-0a1b2c3d4e5f60001&DryRun=true" },
	{ "delete-snapshot-dry-run-answered-success", OP_DELETE_SNAPSHOT, true, 200,
	  DELETE_SNAPSHOT_OK, ERR_PARSE, "", "DeleteSnapshot answered a dry run with success",
	  "Action=DeleteSnapshot&Version=2016-11-15&SnapshotId=snap-0a1b2c3d4e5f60001&DryRun=true" },
	{ "delete-snapshot-in-use", OP_DELETE_SNAPSHOT, false, 400,
	  EC2_ERROR("InvalidSnapshot.InUse", "The snapshot snap-0a1b2c3d4e5f60001 is currently in "
		    "use by ami-0a1b2c3d4e5f60001"),
	  ERR_AWS, "InvalidSnapshot.InUse", "in use by ami-0a1b2c3d4e5f60001",
	  "Action=DeleteSnapshot&Version=2016-11-15&SnapshotId=snap-0a1b2c3d4e5f60001" },
	/* StopInstances shares the dry-run handling */
	{ "stop-dry-run", OP_STOP, true, 412, DRY_RUN_OK, 0, "", NULL,
	  "Action=StopInstances&Version=2016-11-15&InstanceId.1=i-0a1a1a1a1a1a1a1a1"
	  "&InstanceId.2=i-0b2b2b2b2b2b2b2b2&Hibernate=true&DryRun=true" },
	{ "stop-dry-run-answered-success", OP_STOP, true, 200,
	  "<StopInstancesResponse " EC2_NS "><requestId>r</requestId><instancesSet/>"
	  "</StopInstancesResponse>",
	  ERR_PARSE, "", "StopInstances answered a dry run with success",
	  "Action=StopInstances&Version=2016-11-15&InstanceId.1=i-0a1a1a1a1a1a1a1a1"
	  "&InstanceId.2=i-0b2b2b2b2b2b2b2b2&Hibernate=true&DryRun=true" },
};

static void test_call(void **state)
{
	static const char *const ids[] = { "i-0a1a1a1a1a1a1a1a1", "i-0b2b2b2b2b2b2b2b2" };
	const struct call_case *c = *state;
	struct call_fixture *fx = call_fixture_new();
	struct ec2_stop_options stop = { .hibernate = true, .dry_run = c->dry_run };
	struct aws_error e;
	int err = ERR_INTERNAL;

	memset(&e, 0x5a, sizeof(e));	/* whatever was there before must not leak through */
	e.code[sizeof(e.code) - 1] = e.message[sizeof(e.message) - 1] = '\0';
	fake_aws_answer(&fx->fake, c->status, c->answer);
	switch (c->op) {
	case OP_TERMINATE:
		err = ec2_terminate_instances(fx->aws, ids, 2, c->dry_run, &e);
		break;
	case OP_DEREGISTER:
		err = ec2_deregister_image(fx->aws, "ami-0a1b2c3d4e5f60001", c->dry_run, &e);
		break;
	case OP_DELETE_SNAPSHOT:
		err = ec2_delete_snapshot(fx->aws, "snap-0a1b2c3d4e5f60001", c->dry_run, &e);
		break;
	case OP_STOP:
		err = ec2_stop_instances(fx->aws, ids, 2, &stop, &e);
		break;
	}
	assert_int_equal(err, c->err);
	assert_int_equal(fx->fake.calls, 1);
	assert_string_equal(sent(fx, 0), c->body);
	if (err || c->dry_run) {
		/* a passed dry run leaves no trace of EC2's DryRunOperation answer */
		assert_int_equal(e.err, err);
		assert_string_equal(e.code, c->code);
		if (c->message)
			assert_non_null(strstr(e.message, c->message));
		else
			assert_string_equal(e.message, "");
	}
	call_fixture_free(fx);
}

/* ---- snapshots and tags ---- */

#define SNAPSHOTS_PAGE(items, token) \
	"<DescribeSnapshotsResponse " EC2_NS "><requestId>r</requestId><snapshotSet>" items \
	"</snapshotSet>" token "</DescribeSnapshotsResponse>"
#define SNAP_ITEM(id, tags) \
	"<item><snapshotId>" id "</snapshotId><volumeId>vol-1</volumeId><status>completed" \
	"</status><startTime>2026-11-20T03:00:00.000Z</startTime><progress>100%</progress>" \
	"<ownerId>123456789012</ownerId><volumeSize>8</volumeSize><encrypted>false</encrypted>" \
	tags "</item>"

/* Every page, with the owners and filters on each; the list is their union. */
static void test_snapshots_listing(void **state)
{
	static const char *const owners[] = { "self", NULL };
	static const char *const marker[] = { "devcloud:deregistered-image", NULL };
	struct call_fixture *fx = call_fixture_new();
	struct ec2_filter_list filters = EC2_FILTER_LIST_INIT;
	struct ec2_snapshot_list list = EC2_SNAPSHOT_LIST_INIT;
	struct aws_error e;

	(void)state;
	ec2_filters_add(&filters, "tag-key", marker);
	fake_aws_answer(&fx->fake, 200,
			SNAPSHOTS_PAGE(SNAP_ITEM("snap-01", "<tagSet><item><key>devcloud:deregistered-"
						 "image</key><value>ami-0a</value></item><item>"
						 "<key>Name</key><value>root</value></item></tagSet>"),
				       "<nextToken>t+2</nextToken>"));
	fake_aws_answer(&fx->fake, 200, SNAPSHOTS_PAGE(SNAP_ITEM("snap-02", ""), ""));
	assert_int_equal(ec2_describe_snapshots(fx->aws, owners, &filters, &list, &e), 0);
	assert_int_equal(fx->fake.calls, 2);
	assert_string_equal(sent(fx, 0), "Action=DescribeSnapshots&Version=2016-11-15&Owner.1=self"
					 "&Filter.1.Name=tag-key"
					 "&Filter.1.Value.1=devcloud%3Aderegistered-image"
					 "&MaxResults=1000");
	assert_string_equal(sent(fx, 1), "Action=DescribeSnapshots&Version=2016-11-15&Owner.1=self"
					 "&Filter.1.Name=tag-key"
					 "&Filter.1.Value.1=devcloud%3Aderegistered-image"
					 "&MaxResults=1000&NextToken=t%2B2");
	assert_int_equal(list.count, 2);
	assert_string_equal(list.items[0].id, "snap-01");
	assert_string_equal(list.items[0].owner_id, "123456789012");
	assert_string_equal(ec2_snapshot_tag(&list.items[0], "devcloud:deregistered-image"),
			    "ami-0a");
	assert_string_equal(ec2_snapshot_tag(&list.items[0], "Name"), "root");
	assert_null(ec2_snapshot_tag(&list.items[1], "devcloud:deregistered-image"));
	ec2_snapshot_list_release(&list);
	ec2_filters_release(&filters);
	call_fixture_free(fx);
}

/* A later page that fails or cannot be read: no snapshots at all. */
static void test_snapshots_listing_failures(void **state)
{
	static const char *const answers[] = {
		SNAPSHOTS_PAGE("<item><volumeId>vol-1</volumeId></item>", ""),	/* no id */
		"<DescribeSnapshotsResponse><snapshotSet>",			/* not XML */
		"<DescribeImagesResponse/>",					/* not ours */
		EC2_ERROR("UnauthorizedOperation", "not authorized"),
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(answers); i++) {
		struct call_fixture *fx = call_fixture_new();
		struct ec2_snapshot_list list = EC2_SNAPSHOT_LIST_INIT;
		struct aws_error e;

		fake_aws_answer(&fx->fake, 200,
				SNAPSHOTS_PAGE(SNAP_ITEM("snap-01", ""), "<nextToken>t</nextToken>"));
		fake_aws_answer(&fx->fake, i == 3 ? 403 : 200, answers[i]);
		assert_int_not_equal(ec2_describe_snapshots(fx->aws, NULL, NULL, &list, &e), 0);
		assert_int_equal(list.count, 0);
		assert_null(list.items);
		call_fixture_free(fx);
	}
}

struct tags_case {
	const char *name;
	bool dry_run;
	long status;
	const char *answer;
	int err;
	const char *code;
};

static const struct tags_case tags_cases[] = {
	{ "tags", false, 200,
	  "<CreateTagsResponse " EC2_NS "><requestId>r</requestId><return>true</return>"
	  "</CreateTagsResponse>", 0, "" },
	{ "dry-run", true, 412, DRY_RUN_OK, 0, "" },
	{ "not-found", false, 400,
	  EC2_ERROR("InvalidSnapshot.NotFound", "The snapshot 'snap-02' does not exist."), ERR_AWS,
	  "InvalidSnapshot.NotFound" },
	{ "dry-run-denied", true, 403, EC2_ERROR("UnauthorizedOperation", "not authorized"),
	  ERR_AWS, "UnauthorizedOperation" },
};

static void test_create_tags(void **state)
{
	static const char *const ids[] = { "snap-01", "snap-02" };
	const struct tags_case *c = *state;
	struct call_fixture *fx = call_fixture_new();
	struct buf want = BUF_INIT;
	struct aws_error e;

	fake_aws_answer(&fx->fake, c->status, c->answer);
	assert_int_equal(ec2_create_tags(fx->aws, ids, 2, "devcloud:deregistered-image", "ami-0a",
					 c->dry_run, &e),
			 c->err);
	buf_appends(&want, "Action=CreateTags&Version=2016-11-15&ResourceId.1=snap-01"
			   "&ResourceId.2=snap-02&Tag.1.Key=devcloud%3Aderegistered-image"
			   "&Tag.1.Value=ami-0a");
	if (c->dry_run)
		buf_appends(&want, "&DryRun=true");
	assert_string_equal(sent(fx, 0), buf_cstr(&want));
	if (c->err || c->dry_run)
		assert_string_equal(e.code, c->code);
	buf_release(&want);
	call_fixture_free(fx);
}

static void test_delete_tags(void **state)
{
	static const char *const ids[] = { "i-0a1b2c3d", "i-0b1b2c3d" };
	const struct tags_case *c = *state;
	struct call_fixture *fx = call_fixture_new();
	struct buf want = BUF_INIT;
	struct aws_error e;

	fake_aws_answer(&fx->fake, c->status, c->answer);
	assert_int_equal(ec2_delete_tags(fx->aws, ids, 2, "devcloud:draining-since", c->dry_run,
					 &e),
			 c->err);
	/* a key without a value: the tag goes whatever its value */
	buf_appends(&want, "Action=DeleteTags&Version=2016-11-15&ResourceId.1=i-0a1b2c3d"
			   "&ResourceId.2=i-0b1b2c3d&Tag.1.Key=devcloud%3Adraining-since");
	if (c->dry_run)
		buf_appends(&want, "&DryRun=true");
	assert_string_equal(sent(fx, 0), buf_cstr(&want));
	assert_null(strstr(sent(fx, 0), "Tag.1.Value"));
	if (c->err || c->dry_run)
		assert_string_equal(e.code, c->code);
	buf_release(&want);
	call_fixture_free(fx);
}

/* DescribeLaunchTemplateVersions requests. */
struct lt_request_case {
	const char *name;
	const char *template_id;
	const char *template_name;
	const char *const *versions;
	const char *body;
};

static const char *const versions_default_latest[] = { "$Default", "$Latest", NULL };
static const char *const versions_numbers[] = { "3", "$Default", NULL };

static struct lt_request_case lt_request_cases[] = {
	{ "every-template", NULL, NULL, versions_default_latest,
	  "Action=DescribeLaunchTemplateVersions&Version=2016-11-15"
	  "&LaunchTemplateVersion.1=%24Default&LaunchTemplateVersion.2=%24Latest&MaxResults=200" },
	{ "by-id", "lt-0a1b2c3d4e5f60001", NULL, versions_numbers,
	  "Action=DescribeLaunchTemplateVersions&Version=2016-11-15"
	  "&LaunchTemplateId=lt-0a1b2c3d4e5f60001"
	  "&LaunchTemplateVersion.1=3&LaunchTemplateVersion.2=%24Default&MaxResults=200" },
	{ "by-name", NULL, "drone agents", versions_default_latest,
	  "Action=DescribeLaunchTemplateVersions&Version=2016-11-15"
	  "&LaunchTemplateName=drone%20agents"
	  "&LaunchTemplateVersion.1=%24Default&LaunchTemplateVersion.2=%24Latest&MaxResults=200" },
	/* EC2 refuses both at once: the id wins */
	{ "id-over-name", "lt-0a1b2c3d4e5f60001", "devbox", versions_numbers,
	  "Action=DescribeLaunchTemplateVersions&Version=2016-11-15"
	  "&LaunchTemplateId=lt-0a1b2c3d4e5f60001"
	  "&LaunchTemplateVersion.1=3&LaunchTemplateVersion.2=%24Default&MaxResults=200" },
};

static void test_lt_request(void **state)
{
	const struct lt_request_case *c = *state;
	struct call_fixture *fx = call_fixture_new();
	struct ec2_launch_template_version_list list = EC2_LAUNCH_TEMPLATE_VERSION_LIST_INIT;
	struct aws_error e;

	fake_aws_answer(&fx->fake, 200, lt_page);	/* it has a nextToken ... */
	fake_aws_answer(&fx->fake, 200, LT_DOC(LT("lt-0f", "4")));	/* ... this one none */
	assert_int_equal(ec2_describe_launch_template_versions(fx->aws, c->template_id,
							       c->template_name, c->versions,
							       &list, &e),
			 0);
	assert_int_equal(fx->fake.calls, 2);
	assert_string_equal(sent(fx, 0), c->body);
	assert_true(!strncmp(sent(fx, 1), c->body, strlen(c->body)));
	assert_string_equal(sent(fx, 1) + strlen(c->body), "&NextToken=eyJ2IjoiMSIsImMiOiJsdCJ9");
	assert_int_equal(list.count, ARRAY_SIZE(lt_cases) + 1);
	assert_string_equal(list.items[2].template_id, "lt-0f0e0d0c0b0a09080");
	assert_string_equal(list.items[3].template_id, "lt-0f");
	assert_int_equal(list.items[3].version, 4);
	ec2_launch_template_version_list_release(&list);
	call_fixture_free(fx);
}

/* A failing later page empties the list; no versions at all is refused unsent. */
static void test_lt_failures(void **state)
{
	static const char *const none[] = { NULL };
	struct call_fixture *fx = call_fixture_new();
	struct ec2_launch_template_version_list list = EC2_LAUNCH_TEMPLATE_VERSION_LIST_INIT;
	struct aws_error e;

	(void)state;
	fake_aws_answer(&fx->fake, 200, lt_page);
	fake_aws_answer(&fx->fake, 400,
			EC2_ERROR("InvalidLaunchTemplateName.NotFoundException",
				  "At least one of the launch templates specified in the request "
				  "does not exist."));
	assert_int_equal(ec2_describe_launch_template_versions(fx->aws, NULL, "devbox",
							       versions_default_latest, &list, &e),
			 ERR_AWS);
	assert_int_equal(fx->fake.calls, 2);
	assert_int_equal(list.count, 0);
	assert_null(list.items);
	assert_string_equal(e.code, "InvalidLaunchTemplateName.NotFoundException");
	assert_int_equal(e.http_status, 400);

	fake_aws_fail(&fx->fake, ERR_HTTP);
	assert_int_equal(ec2_describe_launch_template_versions(fx->aws, "lt-1", NULL,
							       versions_numbers, &list, &e),
			 ERR_HTTP);
	assert_int_equal(fx->fake.calls, 3);
	assert_int_equal(list.count, 0);

	assert_int_equal(ec2_describe_launch_template_versions(fx->aws, "lt-1", NULL, none, &list,
							       &e),
			 ERR_INTERNAL);
	assert_int_equal(ec2_describe_launch_template_versions(fx->aws, "lt-1", NULL, NULL, &list,
							       &e),
			 ERR_INTERNAL);
	assert_int_equal(e.err, ERR_INTERNAL);
	assert_non_null(strstr(e.message, "without versions"));
	assert_int_equal(fx->fake.calls, 3);	/* nothing sent */
	assert_int_equal(list.count, 0);
	call_fixture_free(fx);
}

int main(void)
{
	struct CMUnitTest instance_tests[ARRAY_SIZE(instance_cases) + 4];
	int failed;

	for (size_t i = 0; i < ARRAY_SIZE(filter_cases); i++)
		table_add("filters", filter_cases[i].name, test_filters, &filter_cases[i]);
	table_add("filters", "add-and-params", test_filters_add, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(with_states_cases); i++)
		table_add("filters/with-states", with_states_cases[i].name, test_filters_with_states,
			  &with_states_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(page_cases); i++)
		table_add("pages", page_cases[i].name, test_page, &page_cases[i]);
	table_add("pages", "many-instances", test_many_instances, NULL);
	failed = table_run_group("ec2", NULL, NULL);

	/* one group parses page1 once; each instance of it is a test */
	for (size_t i = 0; i < ARRAY_SIZE(instance_cases); i++)
		instance_tests[i] = (struct CMUnitTest){ .name = instance_cases[i].id,
							 .test_func = test_instance,
							 .initial_state = &instance_cases[i] };
	instance_tests[ARRAY_SIZE(instance_cases)] =
		(struct CMUnitTest){ .name = "next-token", .test_func = test_page_next_token };
	instance_tests[ARRAY_SIZE(instance_cases) + 1] =
		(struct CMUnitTest){ .name = "pages-append", .test_func = test_pages_append };
	instance_tests[ARRAY_SIZE(instance_cases) + 2] =
		(struct CMUnitTest){ .name = "private-dns-name", .test_func = test_private_dns_name };
	instance_tests[ARRAY_SIZE(instance_cases) + 3] =
		(struct CMUnitTest){ .name = "lean-listing", .test_func = test_lean_listing };
	failed += _cmocka_run_group_tests("ec2 DescribeInstances page", instance_tests,
					  ARRAY_SIZE(instance_tests), page1_setup, page1_teardown);

	/* the images page is parsed once by the group's setup */
	for (size_t i = 0; i < ARRAY_SIZE(image_cases); i++)
		table_add("images", image_cases[i].id, test_image, &image_cases[i]);
	table_add("images", "pages-append", test_image_pages_append, NULL);
	failed += table_run_group("ec2 DescribeImages page", images_setup, images_teardown);

	for (size_t i = 0; i < ARRAY_SIZE(image_page_cases); i++)
		table_add("image-pages", image_page_cases[i].name, test_image_page,
			  &image_page_cases[i]);
	table_add("lt-pages", "documented-shape", test_lt_page, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(lt_page_cases); i++)
		table_add("lt-pages", lt_page_cases[i].name, test_lt_page_case, &lt_page_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(images_request_cases); i++)
		table_add("images-request", images_request_cases[i].name, test_images_request,
			  &images_request_cases[i]);
	table_add("images-request", "pagination", test_images_pagination, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(images_failure_cases); i++)
		table_add("images-failure", images_failure_cases[i].name, test_images_failure,
			  &images_failure_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(call_cases); i++)
		table_add("calls", call_cases[i].name, test_call, &call_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(lt_request_cases); i++)
		table_add("lt-request", lt_request_cases[i].name, test_lt_request,
			  &lt_request_cases[i]);
	table_add("lt-request", "failures", test_lt_failures, NULL);
	table_add("snapshots", "listing", test_snapshots_listing, NULL);
	table_add("images", "cut-page-retried", test_images_cut_page_retried, NULL);
	table_add("snapshots", "listing-failures", test_snapshots_listing_failures, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(tags_cases); i++)
		table_add("create-tags", tags_cases[i].name, test_create_tags, (void *)&tags_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(tags_cases); i++)
		table_add("delete-tags", tags_cases[i].name, test_delete_tags, (void *)&tags_cases[i]);
	failed += table_run_group("ec2 images, snapshots, launch templates", NULL, NULL);

	return failed ? 1 : 0;
}
